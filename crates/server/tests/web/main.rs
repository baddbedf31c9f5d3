//! The settings pages over plain HTTP: who may open which page (a table, as
//! for the API), CSRF on every form, bad form input, and the headers every
//! page carries. The browser tests (`tests/browser/`) cover what needs a
//! real browser.

#[allow(dead_code)]
#[path = "../api/support.rs"]
mod support;

mod forms;
mod pages;
mod visitors;
