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

// In front of Samba (AD): groups the way AD FS sends them, next to the memberOf DNs (which hold
// direct memberships only). uid is the sAMAccountName; a group's name is its CN (equal to its
// sAMAccountName in the test domain).
if ($peer['directory'] === 'samba') {
    $roleportQualify = var_export($peer['netbios_domain'] . '\\', true);
    $metadata[$peer['idp_entity_id']]['authproc'] = [
        10 => ['class' => 'core:AttributeCopy', 'sAMAccountName' => 'uid'],
        20 => [
            'class' => 'core:PHP',
            'code' => <<<'PHP'
                $names = [];
                foreach ($attributes['memberOf'] ?? [] as $dn) {
                    // The first RDN's value, unescaped: "CN=aws-admins,CN=Users,DC=..." -> aws-admins
                    if (preg_match('/^CN=((?:[^,\\\\]|\\\\.)+),/i', $dn, $m)) {
                        $names[] = preg_replace('/\\\\(.)/', '$1', $m[1]);
                    }
                }
                if ($names !== []) {
                    // AD FS "Token-Groups - Unqualified Names"
                    $attributes['http://schemas.xmlsoap.org/claims/Group'] = $names;
                    // AD FS "Token-Groups - Qualified by Domain Name"
                    $attributes['http://schemas.microsoft.com/ws/2008/06/identity/claims/groups'] =
                        array_map(fn($n) => QUALIFY . $n, $names);
                }
            PHP,
        ],
        30 => [
            'class' => 'core:AttributeLimit',
            'uid', 'mail', 'displayName', 'userPrincipalName', 'memberOf',
            'http://schemas.xmlsoap.org/claims/Group',
            'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
        ],
    ];
    $metadata[$peer['idp_entity_id']]['authproc'][20]['code'] =
        str_replace('QUALIFY', $roleportQualify, $metadata[$peer['idp_entity_id']]['authproc'][20]['code']);
    unset($roleportQualify);
}
