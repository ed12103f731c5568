//! The tariff as the operator writes it and rating reads it: the catalog (plans, options,
//! packages, prices) and a CGRateS tariff plan a catalog may hold. Built on the units alone.

pub mod catalog;
pub mod cgrates;
