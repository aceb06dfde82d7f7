<?php
/*
 * Authentication sources of Roleport's private test IdP: one LDAP source bound to the private
 * slapd started by deploy/peers/ldap/ldap.sh, or (directory "samba") to the Samba AD DC of
 * deploy/peers/samba over LDAPS.
 */

$peer = require __DIR__ . '/peer-settings.php';

if ($peer['directory'] === 'samba') {
    $config = [
        'admin' => ['core:AdminPassword'],
        'ldap' => [
            'ldap:LDAP',
            // LDAPS with the test CA (LDAPCONF, set by idp.sh): Samba refuses simple binds in clear.
            'hostname' => 'ldaps://127.0.0.1',
            'port' => $peer['samba_ldaps_port'],
            'enable_tls' => false,
            'referrals' => false,
            'timeout' => 5,
            'debug' => false,
            'search.enable' => true,
            'search.base' => 'CN=Users,' . $peer['samba_base_dn'],
            'search.scope' => 'onelevel',
            'search.attributes' => ['sAMAccountName'],
            'search.filter' => '(&(objectClass=user)(objectCategory=person))',
            'search.username' => $peer['ldap_admin_dn'],
            'search.password' => $peer['ldap_admin_pw'],
            'priv.read' => false,
            // AD's memberOf holds direct memberships only: nesting is for Roleport to resolve.
            'attributes' => ['sAMAccountName', 'userPrincipalName', 'mail', 'displayName', 'memberOf'],
        ],
    ];
    return;
}

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
