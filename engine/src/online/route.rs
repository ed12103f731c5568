//! Where an online request is decided. An instance decides only for the accounts of the
//! partitions it owns: one writer for each partition's log. A request for any other account is
//! sent to its owner, as the directory of instances names it (3006 with Redirect-Host), or, when
//! no other instance is known to own it yet (the partition is moving), refused for now (3004).
//! A number no partition holds is unknown (5030) and, belonging to no partition this instance
//! owns, is not logged.

use crate::directory::{Directory, Owner, Whereabouts};
use crate::pipeline::Engine;
use rating::{Input, Msisdn};

/// Why a request is not decided here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elsewhere {
    /// Another instance owns the account: the peer should ask it.
    Owner(Owner),
    /// No other instance is known to own the account's partition yet (a rebalance is moving
    /// it), or this instance owns it and has not caught up with the number yet: ask again.
    Moving,
}

impl Elsewhere {
    /// The Result-Code that says so: 3006 REDIRECT_INDICATION, or 3004 TOO_BUSY.
    pub fn result_code(&self) -> u32 {
        match self {
            Elsewhere::Owner(_) => super::avps::REDIRECT_INDICATION,
            Elsewhere::Moving => super::avps::TOO_BUSY,
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Here,
    Elsewhere(Elsewhere),
    /// No partition holds the number.
    Unknown(Msisdn),
}

/// Where `input` is decided. Without a directory this instance owns every partition.
pub fn route(engine: &mut Engine, directory: Option<&Directory>, input: &Input) -> Route {
    let Some(directory) = directory else {
        return Route::Here;
    };
    if let Input::Session(request) = input {
        // A store that cannot be read now: decided here, where the read fails again with its
        // reason.
        if engine.hold_numbers(&[request.msisdn]).is_err() {
            return Route::Here;
        }
    }
    let partition = engine.partition_of_input(input);
    // A number this instance's state does not know may be held in another's partition: the
    // directory says, before the number's own partition refuses it as unknown.
    let unknown_here = matches!(input, Input::Session(request)
        if engine.state.account_of_number(request.msisdn).is_none());
    if engine.owns(partition) && !unknown_here {
        return Route::Here;
    }
    let owner = match input {
        Input::Session(request) => match directory.whereabouts(request.msisdn) {
            Ok(Whereabouts::Nowhere) if engine.owns(partition) => return Route::Here,
            Ok(Whereabouts::Nowhere) => return Route::Unknown(request.msisdn),
            Ok(Whereabouts::Partition(p, _)) if engine.owns(p) => None,
            Ok(Whereabouts::Partition(_, owner)) => owner,
            // Not known now: to be sent again, as while a partition moves.
            Err(error) => {
                tracing::error!(%error, "the directory");
                None
            }
        },
        // A refund names its account, whose partition is a function of its id.
        _ => directory.owner(partition),
    };
    // The owner named is this instance (its URI) while the group has not yet given the
    // partition to another, or this instance's claim from before a rebalance: ask again.
    let me = directory.me().map(|me| me.uri.as_str());
    match owner {
        Some(owner) if Some(owner.uri.as_str()) != me => Route::Elsewhere(Elsewhere::Owner(owner)),
        _ => Route::Elsewhere(Elsewhere::Moving),
    }
}
