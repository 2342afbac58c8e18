//! The deadline calendar of privacy requests. Pure date arithmetic on UTC calendar dates.
//!
//! GDPR / UK GDPR (ICO guidance "Time limits for responding"): the day of receipt is day one
//! and the answer is due on the same date in the next month; when that month has no such date
//! (31 January), on its last day; when the date falls on a weekend (or a holiday the operator
//! lists), on the next working day. An extension adds two further months, counted the same way
//! from receipt, and may only be recorded, with a reason, before the first deadline has passed.
//!
//! CCPA (Cal. Code Regs. tit. 11 § 7021): acknowledge within 10 business days, answer within
//! 45 calendar days of receipt, extendable once by 45 more with notice before the first 45 end.
//!
//! Identity verification pauses the clock: each whole day spent waiting moves every deadline
//! by a day (the clock restarts the day the proof arrives).

use super::Regime;
use crate::ValidationError;
use time::{Date, Duration, Month, Weekday};

/// Every deadline of one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Deadlines {
    /// The acknowledgement is due by the end of this day.
    pub acknowledge_by: Date,
    /// The answer is due by the end of this day (the extended date once extended).
    pub respond_by: Date,
    /// The first deadline: after it, no extension can be recorded.
    pub first_deadline: Date,
}

/// How close a request is to its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    OnTime,
    /// Due within [`NEAR_DUE_DAYS`] days.
    NearDue,
    Overdue,
}

/// A request due within this many days is shown as near due.
pub const NEAR_DUE_DAYS: i64 = 7;

/// `date` plus `months` calendar months; the last day of the target month when it is shorter.
pub fn add_months_clamped(date: Date, months: u32) -> Date {
    let zero_based = date.month() as i32 - 1 + months as i32;
    let year = date.year() + zero_based.div_euclid(12);
    let month = Month::try_from((zero_based.rem_euclid(12) + 1) as u8).unwrap_or(Month::December);
    let last = month.length(year);
    let day = date.day().min(last);
    Date::from_calendar_date(year, month, day).unwrap_or(date)
}

fn is_working_day(date: Date, holidays: &[Date]) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) && !holidays.contains(&date)
}

/// `date` itself when it is a working day, else the next working day.
pub fn next_working_day(date: Date, holidays: &[Date]) -> Date {
    let mut d = date;
    // A year of consecutive holidays is a configuration mistake; stop rather than loop.
    for _ in 0..366 {
        if is_working_day(d, holidays) {
            return d;
        }
        d = d.next_day().unwrap_or(d);
    }
    d
}

/// The `n`th working day after `date` (the day of receipt is not counted).
pub fn add_business_days(date: Date, n: u32, holidays: &[Date]) -> Date {
    let mut d = date;
    let mut left = n;
    while left > 0 {
        d = d.next_day().unwrap_or(d);
        if is_working_day(d, holidays) {
            left -= 1;
        }
    }
    d
}

/// The deadlines of a request received on `received`, after `paused_days` whole days of
/// waiting for identity, extended or not.
pub fn deadlines(
    regime: Regime,
    received: Date,
    paused_days: i64,
    extended: bool,
    holidays: &[Date],
) -> Deadlines {
    let start = received
        .checked_add(Duration::days(paused_days.max(0)))
        .unwrap_or(received);
    match regime {
        Regime::Gdpr => {
            let first = next_working_day(add_months_clamped(start, 1), holidays);
            let respond_by = if extended {
                next_working_day(add_months_clamped(start, 3), holidays)
            } else {
                first
            };
            Deadlines {
                // Promised in PROMISES.md (platform B): acknowledged within 7 days.
                acknowledge_by: next_working_day(start + Duration::days(7), holidays),
                respond_by,
                first_deadline: first,
            }
        }
        Regime::Ccpa => {
            let first = start + Duration::days(45);
            Deadlines {
                acknowledge_by: add_business_days(start, 10, holidays),
                respond_by: if extended {
                    first + Duration::days(45)
                } else {
                    first
                },
                first_deadline: first,
            }
        }
    }
}

/// Whether an extension may be recorded on `today`: only up to and including the first
/// deadline, and only once.
pub fn check_extension(
    first_deadline: Date,
    already_extended: bool,
    today: Date,
) -> Result<(), ValidationError> {
    if already_extended {
        return Err(ValidationError::new(
            "already_extended",
            "The deadline was already extended once.",
        ));
    }
    if today > first_deadline {
        return Err(ValidationError::new(
            "extension_too_late",
            format!(
                "The first deadline ({first_deadline}) has passed; an extension had to be recorded before it."
            ),
        ));
    }
    Ok(())
}

/// Whole days spent paused: each pause from its start to its end (or to `now` while it
/// lasts), counted in calendar days between the two dates.
pub fn paused_days(pauses: &[(Date, Option<Date>)], today: Date) -> i64 {
    pauses
        .iter()
        .map(|(start, end)| {
            let end = end.unwrap_or(today);
            (end - *start).whole_days().max(0)
        })
        .sum()
}

/// Where a request with deadline `due` stands on `today`.
pub fn urgency(due: Date, today: Date) -> Urgency {
    if today > due {
        Urgency::Overdue
    } else if (due - today).whole_days() <= NEAR_DUE_DAYS {
        Urgency::NearDue
    } else {
        Urgency::OnTime
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    fn gdpr(received: Date) -> Date {
        deadlines(Regime::Gdpr, received, 0, false, &[]).respond_by
    }

    #[test]
    fn same_date_next_month() {
        // Tuesday 3 March 2026 -> Friday 3 April 2026.
        assert_eq!(gdpr(date!(2026 - 03 - 03)), date!(2026 - 04 - 03));
    }

    #[test]
    fn thirty_first_of_january_ends_on_the_last_day_of_february() {
        // 28 February 2025 is a Friday.
        assert_eq!(gdpr(date!(2025 - 01 - 31)), date!(2025 - 02 - 28));
        // 2026: 28 February is a Saturday -> Monday 2 March.
        assert_eq!(gdpr(date!(2026 - 01 - 31)), date!(2026 - 03 - 02));
    }

    #[test]
    fn leap_years_give_the_twenty_ninth() {
        // 29 February 2028 is a Tuesday.
        assert_eq!(gdpr(date!(2028 - 01 - 31)), date!(2028 - 02 - 29));
        assert_eq!(gdpr(date!(2028 - 01 - 29)), date!(2028 - 02 - 29));
        // Received on 29 February: due 29 March 2028 (a Wednesday).
        assert_eq!(gdpr(date!(2028 - 02 - 29)), date!(2028 - 03 - 29));
        // A year later there is no 29 February: clamped to the 28th.
        assert_eq!(
            add_months_clamped(date!(2028 - 02 - 29), 12),
            date!(2029 - 02 - 28)
        );
    }

    #[test]
    fn weekends_and_holidays_move_to_the_next_working_day() {
        // 4 April 2026 is a Saturday.
        assert_eq!(gdpr(date!(2026 - 03 - 04)), date!(2026 - 04 - 06));
        // With Easter Monday 6 April 2026 listed as a holiday: Tuesday.
        let d = deadlines(
            Regime::Gdpr,
            date!(2026 - 03 - 04),
            0,
            false,
            &[date!(2026 - 04 - 06)],
        );
        assert_eq!(d.respond_by, date!(2026 - 04 - 07));
    }

    #[test]
    fn december_rolls_into_the_next_year() {
        assert_eq!(gdpr(date!(2026 - 12 - 15)), date!(2027 - 01 - 15));
        assert_eq!(
            add_months_clamped(date!(2026 - 11 - 30), 3),
            date!(2027 - 02 - 28)
        );
    }

    #[test]
    fn extension_is_two_more_months_from_receipt() {
        let d = deadlines(Regime::Gdpr, date!(2026 - 01 - 05), 0, true, &[]);
        assert_eq!(d.first_deadline, date!(2026 - 02 - 05));
        assert_eq!(d.respond_by, date!(2026 - 04 - 06)); // 5 April 2026 is a Sunday.
    }

    #[test]
    fn extension_refused_after_the_first_deadline() {
        let first = date!(2026 - 02 - 05);
        assert!(check_extension(first, false, date!(2026 - 02 - 05)).is_ok());
        assert_eq!(
            check_extension(first, false, date!(2026 - 02 - 06))
                .unwrap_err()
                .code,
            "extension_too_late"
        );
        assert_eq!(
            check_extension(first, true, date!(2026 - 01 - 10))
                .unwrap_err()
                .code,
            "already_extended"
        );
    }

    #[test]
    fn pauses_move_every_deadline() {
        let pauses = [
            (date!(2026 - 01 - 05), Some(date!(2026 - 01 - 08))),
            (date!(2026 - 01 - 20), None),
        ];
        let days = paused_days(&pauses, date!(2026 - 01 - 22));
        assert_eq!(days, 3 + 2);
        let d = deadlines(Regime::Gdpr, date!(2026 - 01 - 05), days, false, &[]);
        assert_eq!(d.respond_by, date!(2026 - 02 - 10));
        // A pause that ended the day it began costs nothing.
        assert_eq!(
            paused_days(
                &[(date!(2026 - 01 - 05), Some(date!(2026 - 01 - 05)))],
                date!(2026 - 03 - 01)
            ),
            0
        );
    }

    #[test]
    fn ccpa_counts_business_days_and_45_days() {
        // Friday 2 January 2026: ten business days later is Friday 16 January.
        let d = deadlines(Regime::Ccpa, date!(2026 - 01 - 02), 0, false, &[]);
        assert_eq!(d.acknowledge_by, date!(2026 - 01 - 16));
        assert_eq!(d.respond_by, date!(2026 - 02 - 16));
        let e = deadlines(Regime::Ccpa, date!(2026 - 01 - 02), 0, true, &[]);
        assert_eq!(e.respond_by, date!(2026 - 04 - 02));
    }

    #[test]
    fn urgency_bands() {
        let due = date!(2026 - 02 - 10);
        assert_eq!(urgency(due, date!(2026 - 01 - 10)), Urgency::OnTime);
        assert_eq!(urgency(due, date!(2026 - 02 - 03)), Urgency::NearDue);
        assert_eq!(urgency(due, date!(2026 - 02 - 10)), Urgency::NearDue);
        assert_eq!(urgency(due, date!(2026 - 02 - 11)), Urgency::Overdue);
    }

    fn any_date() -> impl Strategy<Value = Date> {
        (2000i32..2100, 1u16..=366).prop_map(|(y, d)| {
            Date::from_ordinal_date(y, d.min(time::util::days_in_year(y)))
                .unwrap_or(date!(2026 - 01 - 01))
        })
    }

    proptest! {
        #[test]
        fn gdpr_deadline_is_a_working_day_about_a_month_later(received in any_date(), paused in 0i64..60) {
            let d = deadlines(Regime::Gdpr, received, paused, false, &[]);
            let start = received + Duration::days(paused);
            prop_assert!(is_working_day(d.respond_by, &[]));
            let days = (d.respond_by - start).whole_days();
            // 28 days (February) to 31 days, plus at most two weekend days.
            prop_assert!((28..=33).contains(&days), "{received} + {paused}: {days}");
            prop_assert!(d.acknowledge_by <= d.respond_by);
            // Never before the clamped same date next month.
            prop_assert!(d.respond_by >= add_months_clamped(start, 1));
        }

        #[test]
        fn extension_never_shortens_and_adds_about_two_months(received in any_date()) {
            let first = deadlines(Regime::Gdpr, received, 0, false, &[]);
            let ext = deadlines(Regime::Gdpr, received, 0, true, &[]);
            prop_assert_eq!(first.first_deadline, ext.first_deadline);
            let extra = (ext.respond_by - first.respond_by).whole_days();
            prop_assert!((56..=64).contains(&extra), "{received}: {extra}");
        }

        #[test]
        fn more_pause_never_means_an_earlier_deadline(received in any_date(), a in 0i64..90, b in 0i64..90) {
            let (lo, hi) = (a.min(b), a.max(b));
            let early = deadlines(Regime::Gdpr, received, lo, false, &[]).respond_by;
            let late = deadlines(Regime::Gdpr, received, hi, false, &[]).respond_by;
            prop_assert!(early <= late);
        }

        #[test]
        fn extension_allowed_exactly_up_to_the_first_deadline(received in any_date(), offset in -40i64..40) {
            let d = deadlines(Regime::Gdpr, received, 0, false, &[]);
            let today = d.first_deadline + Duration::days(offset);
            prop_assert_eq!(check_extension(d.first_deadline, false, today).is_ok(), offset <= 0);
        }

        #[test]
        fn ccpa_acknowledgement_is_ten_working_days(received in any_date()) {
            let d = deadlines(Regime::Ccpa, received, 0, false, &[]);
            let mut count = 0;
            let mut day = received;
            while day < d.acknowledge_by {
                day = day.next_day().unwrap();
                if is_working_day(day, &[]) { count += 1; }
            }
            prop_assert_eq!(count, 10);
            prop_assert!(is_working_day(d.acknowledge_by, &[]));
        }
    }
}
