<?php
/*
 * SimpleSAMLphp 1.19 main configuration for Roleport's private test IdP.
 *
 * Copied by deploy/peers/saml-idp/idp.sh into $STATE/idp/config/ (selected with
 * SIMPLESAMLPHP_CONFIG_DIR); every instance-specific value comes from peer-settings.php, which
 * idp.sh generates next to it. /etc/simplesamlphp is never read.
 */

$peer = require __DIR__ . '/peer-settings.php';

$config = [
    // Served by `php -S` at the root: URLs have no /simplesaml/ prefix.
    'baseurlpath' => $peer['base_url'],
    'application' => ['baseURL' => $peer['base_url']],

    'certdir' => $peer['state_dir'],
    'loggingdir' => $peer['idp_dir'] . '/log/',
    'datadir' => $peer['idp_dir'] . '/data/',
    'tempdir' => $peer['idp_dir'] . '/tmp',
    'metadatadir' => $peer['idp_dir'] . '/metadata/',
    'metadata.sources' => [
        ['type' => 'flatfile', 'directory' => $peer['idp_dir'] . '/metadata/'],
    ],
    'attributenamemapdir' => $peer['idp_dir'] . '/attributemap/',   // unused (no AttributeMap)

    'technicalcontact_name' => 'Roleport test IdP',
    'technicalcontact_email' => 'na@example.org',
    'timezone' => 'UTC',

    'secretsalt' => $peer['secret_salt'],
    'auth.adminpassword' => $peer['admin_password'],
    'admin.protectindexpage' => false,
    'admin.protectmetadata' => false,
    'admin.checkforupdates' => false,   // no internet here

    'trusted.url.domains' => ['127.0.0.1:' . $peer['idp_port'], '127.0.0.1'],
    'trusted.url.regex' => false,
    'enable.http_post' => false,
    'assertion.allowed_clock_skew' => 180,

    'debug' => ['saml' => false, 'backtraces' => true, 'validatexml' => false],
    'showerrors' => true,
    'errorreporting' => false,
    'production' => true,

    'logging.level' => SimpleSAML\Logger::INFO,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'logging.processname' => 'simplesamlphp',
    'statistics.out' => [],

    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'enable.adfs-idp' => false,

    'module.enable' => [
        'core' => true,
        'saml' => true,
        'ldap' => true,
        'admin' => true,
        'exampleauth' => false,
    ],

    // Sessions in PHP's file store, private to this instance.
    'store.type' => 'phpsession',
    'session.phpsession.savepath' => $peer['idp_dir'] . '/sessions',
    'session.phpsession.cookiename' => 'SimpleSAML',
    'session.phpsession.httponly' => true,
    'session.duration' => 8 * 60 * 60,
    'session.datastore.timeout' => 4 * 60 * 60,
    'session.state.timeout' => 60 * 60,
    'session.cookie.name' => 'SimpleSAMLSessionID',
    'session.cookie.lifetime' => 0,
    'session.cookie.path' => '/',
    'session.cookie.domain' => null,
    // Plain http on loopback: a Secure cookie would never come back.
    'session.cookie.secure' => false,
    'session.cookie.samesite' => 'Lax',
    'session.authtoken.cookiename' => 'SimpleSAMLAuthToken',
    'session.rememberme.enable' => false,

    'language.available' => ['en'],
    'language.default' => 'en',
    'language.cookie.secure' => false,
    'language.cookie.samesite' => 'Lax',

    'theme.use' => 'default',
    'template.auto_reload' => false,

    // Attribute handling lives in the hosted IdP metadata (saml20-idp-hosted.php).
    'authproc.idp' => [],
    'authproc.sp' => [],
];
