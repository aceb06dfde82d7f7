//! Nested groups at sign-in (`[idp.directory]`): the person's groups from the directory that the
//! assertion lacked, added to the identity in the format its rules use. Failing to resolve them
//! is an error for the caller to refuse the sign-in with: never fewer or more groups than the
//! person has.

use super::sign_in::GroupOrigins;
use crate::domain::FederatedIdentity;
use crate::protocol::directory::groups_to_add;
use crate::upstream::directory::{Directory, DirectoryError};
use chrono::{DateTime, Utc};

pub async fn add_from_directory(
    directory: &Directory,
    identity: &mut FederatedIdentity,
    now: DateTime<Utc>,
) -> Result<GroupOrigins, DirectoryError> {
    let value = directory.lookup_value(identity)?.to_string();
    let resolved = directory.resolve(&value, now).await?;
    let added = groups_to_add(
        &identity.groups,
        &resolved,
        &directory.settings.group_format(),
    );
    let origins = GroupOrigins {
        from_assertion: identity.groups.clone(),
        from_directory: added.clone(),
    };
    identity.groups.extend(added);
    Ok(origins)
}
