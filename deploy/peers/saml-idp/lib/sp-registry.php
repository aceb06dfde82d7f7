<?php
/*
 * Dynamic SP registration for Roleport's private test IdP.
 *
 * Every `*.json` file in the SP registration directory ($STATE/sp-remote.d) describes one SP.
 * Files are read on every request, so registering an SP needs no restart. Write a file under a
 * name that does not end in .json and rename it into place, so a half-written file is never seen.
 *
 * {
 *   "entity_id": "http://127.0.0.1:41234/saml/metadata",      required
 *   "acs_url": "http://127.0.0.1:41234/saml/acs",             required (HTTP-POST binding)
 *   "allow_idp_initiated": true,                             default true
 *   "encrypt_cert_pem": null | "-----BEGIN CERTIFICATE-----...", default null (no encryption)
 *   "signing_cert_pem": null | "-----BEGIN CERTIFICATE-----...", default null; when set, the
 *                        AuthnRequest's HTTP-Redirect signature is required and checked with it
 *   "sign_response": true,                                   default true
 *   "sign_assertion": true,                                  default true
 *   "attributes_aws_role": null | "role-arn,provider-arn" | [..], default null
 *   -- optional, for negative tests --
 *   "name_id_format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
 *   "attribute_name_format": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
 *   "audiences": ["urn:amazon:webservices"],                 extra Audience values
 *   "signature_algorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
 *   "assertion_lifetime": 300
 * }
 *
 * A file that cannot be used is skipped and the reason logged to $STATE/idp/log.
 */

namespace RoleportPeer;

const BINDING_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const NAMEID_PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const NAMEFORMAT_BASIC = 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const AWS_ATTR = 'https://aws.amazon.com/SAML/Attributes/';

/** @return array<string,array> registrations keyed by entity id (later file names win) */
function load_registrations(string $dir): array
{
    $out = [];
    $files = glob(rtrim($dir, '/') . '/*.json');
    if ($files === false) {
        return $out;
    }
    sort($files, SORT_STRING);
    foreach ($files as $file) {
        try {
            $reg = parse_registration($file);
            $out[$reg['entity_id']] = $reg;
        } catch (\Throwable $e) {
            log_error('skipping SP registration ' . $file . ': ' . $e->getMessage());
        }
    }
    return $out;
}

function parse_registration(string $file): array
{
    $raw = @file_get_contents($file);
    if ($raw === false) {
        throw new \RuntimeException('unreadable');
    }
    $j = json_decode($raw, true, 32, JSON_THROW_ON_ERROR);
    if (!is_array($j)) {
        throw new \RuntimeException('not a JSON object');
    }
    $reg = [
        'file' => $file,
        'entity_id' => req_string($j, 'entity_id'),
        'acs_url' => req_string($j, 'acs_url'),
        'allow_idp_initiated' => opt_bool($j, 'allow_idp_initiated', true),
        'encrypt_cert_b64' => null,
        'signing_cert_b64' => null,
        'sign_response' => opt_bool($j, 'sign_response', true),
        'sign_assertion' => opt_bool($j, 'sign_assertion', true),
        'aws_roles' => [],
        'name_id_format' => opt_string($j, 'name_id_format', NAMEID_PERSISTENT),
        'attribute_name_format' => opt_string($j, 'attribute_name_format', NAMEFORMAT_BASIC),
        'audiences' => opt_string_list($j, 'audiences'),
        'signature_algorithm' => opt_string($j, 'signature_algorithm', RSA_SHA256),
        'assertion_lifetime' => null,
    ];
    if (!preg_match('#^https?://#', $reg['acs_url'])) {
        throw new \RuntimeException('acs_url must be an http(s) URL');
    }
    if (isset($j['encrypt_cert_pem'])) {
        $reg['encrypt_cert_b64'] = cert_body(req_string($j, 'encrypt_cert_pem'));
    }
    if (isset($j['signing_cert_pem'])) {
        $reg['signing_cert_b64'] = cert_body(req_string($j, 'signing_cert_pem'));
    }
    if (isset($j['attributes_aws_role'])) {
        $reg['aws_roles'] = is_array($j['attributes_aws_role'])
            ? opt_string_list($j, 'attributes_aws_role')
            : [req_string($j, 'attributes_aws_role')];
    }
    if (isset($j['assertion_lifetime'])) {
        if (!is_int($j['assertion_lifetime']) || $j['assertion_lifetime'] < 1) {
            throw new \RuntimeException('assertion_lifetime must be a positive integer');
        }
        $reg['assertion_lifetime'] = $j['assertion_lifetime'];
    }
    return $reg;
}

/** SimpleSAMLphp saml20-sp-remote metadata for one registration. */
function sp_metadata(array $reg): array
{
    $md = [
        'entityid' => $reg['entity_id'],
        'AssertionConsumerService' => [
            ['index' => 0, 'isDefault' => true, 'Binding' => BINDING_POST, 'Location' => $reg['acs_url']],
        ],
        'NameIDFormat' => $reg['name_id_format'],
        'simplesaml.nameidattribute' => 'uid',
        'attributes.NameFormat' => $reg['attribute_name_format'],
        'saml20.sign.response' => $reg['sign_response'],
        'saml20.sign.assertion' => $reg['sign_assertion'],
        'signature.algorithm' => $reg['signature_algorithm'],
        'validate.authnrequest' => $reg['signing_cert_b64'] !== null,
        'assertion.encryption' => $reg['encrypt_cert_b64'] !== null,
        'roleport.allow_idp_initiated' => $reg['allow_idp_initiated'],
    ];
    if ($reg['audiences'] !== []) {
        $md['audience'] = $reg['audiences'];
    }
    if ($reg['assertion_lifetime'] !== null) {
        $md['assertion.lifetime'] = $reg['assertion_lifetime'];
    }
    if ($reg['encrypt_cert_b64'] !== null) {
        $md['keys'] = [[
            'type' => 'X509Certificate',
            'encryption' => true,
            'signing' => false,
            'X509Certificate' => $reg['encrypt_cert_b64'],
        ]];
    }
    if ($reg['signing_cert_b64'] !== null) {
        $md['keys'] = array_merge($md['keys'] ?? [], [[
            'type' => 'X509Certificate',
            'encryption' => false,
            'signing' => true,
            'X509Certificate' => $reg['signing_cert_b64'],
        ]]);
    }
    if ($reg['aws_roles'] !== []) {
        $md['authproc'] = [
            60 => ['class' => 'core:AttributeAdd', AWS_ATTR . 'Role' => $reg['aws_roles']],
            61 => ['class' => 'core:AttributeCopy', 'uid' => AWS_ATTR . 'RoleSessionName'],
        ];
    }
    return $md;
}

function cert_body(string $pem): string
{
    if (!preg_match('/-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----/s', $pem, $m)) {
        throw new \RuntimeException('encrypt_cert_pem is not a PEM certificate');
    }
    $b64 = preg_replace('/\s+/', '', $m[1]);
    $der = base64_decode($b64, true);
    if ($der === false || @openssl_x509_read($pem) === false) {
        throw new \RuntimeException('encrypt_cert_pem does not parse as an X.509 certificate');
    }
    return $b64;
}

function req_string(array $j, string $k): string
{
    if (!isset($j[$k]) || !is_string($j[$k]) || $j[$k] === '') {
        throw new \RuntimeException("$k must be a non-empty string");
    }
    return $j[$k];
}

function opt_string(array $j, string $k, string $default): string
{
    return isset($j[$k]) ? req_string($j, $k) : $default;
}

function opt_bool(array $j, string $k, bool $default): bool
{
    if (!isset($j[$k])) {
        return $default;
    }
    if (!is_bool($j[$k])) {
        throw new \RuntimeException("$k must be true or false");
    }
    return $j[$k];
}

function opt_string_list(array $j, string $k): array
{
    if (!isset($j[$k])) {
        return [];
    }
    if (!is_array($j[$k]) || !array_is_list($j[$k])) {
        throw new \RuntimeException("$k must be a list of strings");
    }
    foreach ($j[$k] as $v) {
        if (!is_string($v) || $v === '') {
            throw new \RuntimeException("$k must be a list of non-empty strings");
        }
    }
    return $j[$k];
}

function log_error(string $msg): void
{
    if (class_exists('\SimpleSAML\Logger', false)) {
        \SimpleSAML\Logger::error('roleport sp-remote.d: ' . $msg);
    } else {
        error_log('roleport sp-remote.d: ' . $msg);
    }
}
