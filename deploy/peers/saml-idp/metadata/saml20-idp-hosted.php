<?php
/*
 * The hosted SAML 2.0 IdP of Roleport's private test peer.
 *
 * Entity ID: <base url>saml2/idp/metadata.php (also the metadata URL).
 * Signs the Response and the Assertion with RSA-SHA256 (SHA-256 digests, exclusive C14N) using
 * the key and certificate generated at start-up ($STATE/idp.key, $STATE/idp.crt).
 * NameID: the user's uid, format persistent (per SP overridable, see saml20-sp-remote.php).
 */

$peer = require dirname(__DIR__) . '/config/peer-settings.php';

$metadata[$peer['idp_entity_id']] = [
    'host' => '__DEFAULT__',
    'privatekey' => $peer['idp_key'],
    'certificate' => $peer['idp_cert'],
    'auth' => 'ldap',

    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'saml20.sign.response' => true,
    'saml20.sign.assertion' => true,
    // AuthnRequests are accepted unsigned (SP registrations set validate.authnrequest too).
    'validate.authnrequest' => false,
    'redirect.sign' => false,

    'NameIDFormat' => 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    'simplesaml.nameidattribute' => 'uid',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    'assertion.lifetime' => 300,

    // LDAP gives uid, mail, displayName, memberOf; release exactly those (memberOf only when the
    // user is in a group: an attribute without values is not sent at all).
    'authproc' => [
        10 => [
            'class' => 'core:AttributeLimit',
            'uid', 'mail', 'displayName', 'memberOf',
        ],
    ],
];
