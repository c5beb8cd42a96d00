//! The order state machine (`shared/events.md`, the saga):
//!
//! ```text
//! PENDING ──payment authorized──▶ CONFIRMED ──ship (ADMIN)──▶ SHIPPED ──deliver (ADMIN)──▶ DELIVERED
//!    │                               │
//!    ├─out of stock / declined /     └─cancel (its customer or ADMIN)──▶ CANCELLED
//!    │  timed out ──▶ REJECTED
//!    └─cancel (its customer or ADMIN)──▶ CANCELLED
//! ```
//!
//! DELIVERED, CANCELLED and REJECTED are final. Every accepted transition is recorded in the
//! order's history and published as `order.status_changed`.

use emporium_kernel::ids::UserId;

/// The statuses and reasons are the event contract's (`order.status_changed` carries them), so
/// they are defined once, in the kernel.
pub use emporium_kernel::events::contract::orders::{OrderStatus, StatusReason as Reason};

/// Who asks for a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in customer (only their own orders reach the state machine).
    Customer(UserId),
    Admin,
    /// The saga: events from inventory and payments, and the time-out sweeper.
    System,
}

/// What happened or is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `payment.authorized` (stock was reserved before payments authorized).
    Confirm,
    /// `inventory.rejected`, `payment.declined`, or the time-out.
    Reject(Reason),
    Cancel,
    Ship,
    Deliver,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The order's status does not allow this (a userError: nothing changes).
    #[error("an order that is {} cannot be {}", from.as_str(), verb(*command))]
    Illegal { from: OrderStatus, command: Command },
    /// This actor may not do this (FORBIDDEN).
    #[error("only an admin may {} an order", verb(*command))]
    Forbidden { command: Command },
}

fn verb(command: Command) -> &'static str {
    match command {
        Command::Confirm => "confirmed",
        Command::Reject(_) => "rejected",
        Command::Cancel => "cancelled",
        Command::Ship => "shipped",
        Command::Deliver => "delivered",
    }
}

/// An accepted transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: OrderStatus,
    pub to: OrderStatus,
    pub reason: Option<Reason>,
}

/// Decides a transition of an order in `from` (whose customer is `owner`).
pub fn transition(
    from: OrderStatus,
    command: Command,
    actor: Actor,
    owner: UserId,
) -> Result<Transition, TransitionError> {
    use OrderStatus::*;
    let allowed = match (command, actor) {
        (Command::Confirm | Command::Reject(_), Actor::System) => true,
        (Command::Ship | Command::Deliver, Actor::Admin) => true,
        (Command::Cancel, Actor::Admin) => true,
        (Command::Cancel, Actor::Customer(user)) => user == owner,
        _ => false,
    };
    if !allowed {
        return Err(TransitionError::Forbidden { command });
    }
    let (to, reason) = match (from, command) {
        (Pending, Command::Confirm) => (Confirmed, None),
        (Pending, Command::Reject(reason)) => (Rejected, Some(reason)),
        (Pending | Confirmed, Command::Cancel) => (
            Cancelled,
            Some(if actor == Actor::Admin {
                Reason::CancelledByAdmin
            } else {
                Reason::CancelledByCustomer
            }),
        ),
        (Confirmed, Command::Ship) => (Shipped, None),
        (Shipped, Command::Deliver) => (Delivered, None),
        _ => return Err(TransitionError::Illegal { from, command }),
    };
    Ok(Transition { from, to, reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    const ALL: [OrderStatus; 6] = OrderStatus::ALL;

    fn owner() -> UserId {
        uuid::Uuid::from_u128(7).into()
    }

    #[test]
    fn the_happy_path_runs_from_pending_to_delivered() {
        let confirmed = transition(Pending, Command::Confirm, Actor::System, owner()).unwrap();
        assert_eq!((confirmed.to, confirmed.reason), (Confirmed, None));
        assert_eq!(
            transition(Confirmed, Command::Ship, Actor::Admin, owner())
                .unwrap()
                .to,
            Shipped
        );
        assert_eq!(
            transition(Shipped, Command::Deliver, Actor::Admin, owner())
                .unwrap()
                .to,
            Delivered
        );
    }

    #[test]
    fn rejections_carry_their_reason() {
        for reason in [
            Reason::OutOfStock,
            Reason::PaymentDeclined,
            Reason::TimedOut,
        ] {
            let t = transition(Pending, Command::Reject(reason), Actor::System, owner()).unwrap();
            assert_eq!((t.to, t.reason), (Rejected, Some(reason)));
        }
        // A late rejection of an order already confirmed or cancelled changes nothing.
        for from in [Confirmed, Cancelled, Rejected] {
            assert!(matches!(
                transition(
                    from,
                    Command::Reject(Reason::TimedOut),
                    Actor::System,
                    owner()
                ),
                Err(TransitionError::Illegal { .. })
            ));
        }
    }

    #[test]
    fn customers_cancel_their_own_orders_before_shipping_admins_any() {
        let mine = transition(
            Confirmed,
            Command::Cancel,
            Actor::Customer(owner()),
            owner(),
        )
        .unwrap();
        assert_eq!(
            (mine.to, mine.reason),
            (Cancelled, Some(Reason::CancelledByCustomer))
        );
        let admin = transition(Pending, Command::Cancel, Actor::Admin, owner()).unwrap();
        assert_eq!(admin.reason, Some(Reason::CancelledByAdmin));
        assert_eq!(
            transition(
                Confirmed,
                Command::Cancel,
                Actor::Customer(uuid::Uuid::from_u128(8).into()),
                owner()
            ),
            Err(TransitionError::Forbidden {
                command: Command::Cancel
            })
        );
        assert_eq!(
            transition(Shipped, Command::Cancel, Actor::Customer(owner()), owner()),
            Err(TransitionError::Illegal {
                from: Shipped,
                command: Command::Cancel
            })
        );
    }

    #[test]
    fn only_admins_ship_and_deliver_and_only_the_saga_confirms() {
        for command in [Command::Ship, Command::Deliver] {
            assert_eq!(
                transition(Confirmed, command, Actor::Customer(owner()), owner()),
                Err(TransitionError::Forbidden { command })
            );
        }
        assert!(matches!(
            transition(Pending, Command::Confirm, Actor::Admin, owner()),
            Err(TransitionError::Forbidden { .. })
        ));
    }

    #[test]
    fn nothing_leaves_a_final_status() {
        let commands = [
            (Command::Confirm, Actor::System),
            (Command::Reject(Reason::TimedOut), Actor::System),
            (Command::Cancel, Actor::Admin),
            (Command::Ship, Actor::Admin),
            (Command::Deliver, Actor::Admin),
        ];
        for from in ALL.into_iter().filter(|s| s.is_final()) {
            for (command, actor) in commands {
                assert!(
                    transition(from, command, actor, owner()).is_err(),
                    "{from:?} {command:?}"
                );
            }
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in ALL {
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::parse("LOST"), None);
        let error = transition(Delivered, Command::Ship, Actor::Admin, owner()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "an order that is DELIVERED cannot be shipped"
        );
    }
}
