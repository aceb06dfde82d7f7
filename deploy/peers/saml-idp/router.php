<?php
/*
 * Router for `php -S` serving SimpleSAMLphp's www/ directory.
 *
 * The built-in server already maps /module.php/<module>/<page> to module.php with PATH_INFO and
 * serves static assets, so every request is handed back to it (return false) except one:
 * IdP-initiated SSO (SSOService.php?spentityid=...) for an SP registered with
 * "allow_idp_initiated": false, which SimpleSAMLphp 1.19 cannot refuse on its own.
 */

$roleportPath = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);
if ($roleportPath === '/saml2/idp/SSOService.php') {
    $roleportSp = $_REQUEST['spentityid'] ?? $_REQUEST['providerId'] ?? null;
    if (is_string($roleportSp)) {
        require_once __DIR__ . '/lib/sp-registry.php';
        $roleportPeer = require __DIR__ . '/config/peer-settings.php';
        $roleportRegs = \RoleportPeer\load_registrations($roleportPeer['sp_remote_dir']);
        if (isset($roleportRegs[$roleportSp]) && !$roleportRegs[$roleportSp]['allow_idp_initiated']) {
            http_response_code(403);
            header('Content-Type: text/html; charset=utf-8');
            echo "<!DOCTYPE html>\n<html><head><title>IdP-initiated SSO refused</title></head><body>\n"
                . '<h1>IdP-initiated SSO refused</h1><p>IdP-initiated SSO is not allowed for SP '
                . htmlspecialchars($roleportSp) . ".</p>\n</body></html>\n";
            return true;
        }
    }
}
return false;
