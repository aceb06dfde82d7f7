#!/usr/bin/env bash
# Users and groups of the Samba test domain (EXAMPLE / example.test), written with samba-tool
# straight into the database named by $SAMBA_CONF. Mixed-case names on purpose: AD compares
# group names case-insensitively, Roleport's `ad_group` rules must too.
#
#   aws-admins      <- alice (direct), platform-team (group)
#   platform-team   <- oncall (group)                       bob: aws-admins only through nesting
#   oncall          <- bob
#   AWS-ReadOnly    <- carol, alice
#   Cycle-A <-> Cycle-B, dave in Cycle-A                    a membership cycle (AD allows it)
#   mallory         userPrincipalName "al*@example.test": a filter metacharacter in an identity
set -euo pipefail
: "${SAMBA_CONF:?}"
st() { samba-tool "$@" -s "$SAMBA_CONF" >/dev/null; }

for g in aws-admins AWS-ReadOnly platform-team oncall Cycle-A Cycle-B; do st group add "$g"; done
st user create alice 'Al1ce-Passw0rd!' --use-username-as-cn --mail-address=alice@example.test
st user create bob 'B0b-Passw0rd!' --use-username-as-cn --mail-address=bob@example.test
st user create carol 'C4rol-Passw0rd!' --use-username-as-cn --mail-address=carol@example.test
st user create dave 'D4ve-Passw0rd!' --use-username-as-cn --mail-address=dave@example.test
st user create mallory 'M4llory-Passw0rd!' --use-username-as-cn --mail-address=mallory@example.test
st user rename mallory --upn='al*@example.test'
st group addmembers aws-admins alice,platform-team
st group addmembers platform-team oncall
st group addmembers oncall bob
st group addmembers AWS-ReadOnly carol,alice
st group addmembers Cycle-A dave,Cycle-B
st group addmembers Cycle-B Cycle-A
