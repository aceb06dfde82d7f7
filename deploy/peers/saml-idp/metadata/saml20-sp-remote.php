<?php
/*
 * Remote SPs of Roleport's private test IdP: one per *.json file in $STATE/sp-remote.d,
 * read on every request (see lib/sp-registry.php for the JSON format).
 */

require_once dirname(__DIR__) . '/lib/sp-registry.php';

foreach (\RoleportPeer\load_registrations((require dirname(__DIR__) . '/config/peer-settings.php')['sp_remote_dir'])
         as $roleportEntityId => $roleportReg) {
    $metadata[$roleportEntityId] = \RoleportPeer\sp_metadata($roleportReg);
}
unset($roleportEntityId, $roleportReg);
