//! The security team's pages, their pure parts: which capability opens which page, how an
//! audit search is read from a query string, CSV cells that a spreadsheet cannot run, when a
//! sign-in is too old for admin work, how close a certificate is to expiry, where a page of
//! live sessions starts, and which rules document a form sent. No actix, no SQL; `now` is
//! passed in.

pub mod capability;
pub mod certs;
pub mod csv;
pub mod filter;
pub mod reauth;
pub mod rules_upload;
pub mod session_page;
