//! The security team's pages, their pure parts: which capability opens which page, how an
//! audit search is read from a query string, CSV cells that a spreadsheet cannot run, when a
//! sign-in is too old for admin work, and how close a certificate is to expiry. No actix, no
//! SQL; `now` is passed in.

pub mod capability;
pub mod certs;
pub mod csv;
pub mod filter;
pub mod reauth;
