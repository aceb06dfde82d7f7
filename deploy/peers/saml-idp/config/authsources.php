<?php
/*
 * Authentication sources of Roleport's private test IdP: one LDAP source bound to the private
 * slapd started by deploy/peers/ldap/ldap.sh.
 */

$peer = require __DIR__ . '/peer-settings.php';

$config = [
    'admin' => ['core:AdminPassword'],

    'ldap' => [
        'ldap:LDAP',
        'hostname' => '127.0.0.1',
        'port' => $peer['ldap_port'],
        'enable_tls' => false,
        'referrals' => false,
        'timeout' => 5,
        'debug' => false,

        // Find the user's DN by uid under ou=people (searching as the directory admin: anonymous
        // clients may only bind), then bind as the user with the password they typed.
        'search.enable' => true,
        'search.base' => 'ou=people,dc=example,dc=org',
        'search.scope' => 'onelevel',
        'search.attributes' => ['uid'],
        'search.filter' => '(objectClass=inetOrgPerson)',
        'search.username' => $peer['ldap_admin_dn'],
        'search.password' => $peer['ldap_admin_pw'],

        // Read as the user. memberOf is operational: it is only returned when asked for by name.
        'priv.read' => false,
        'attributes' => ['uid', 'mail', 'displayName', 'memberOf'],
    ],
];
