use chrono::{Duration, TimeZone};

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
}

fn line(id: &str, price: &str, quantity: i32) -> Line {
    Line {
        product_id: id.into(),
        product_name: id.into(),
        variant_id: id.into(),
        variant_title: id.into(),
        sku: id.to_uppercase(),
        unit_price: Money::parse_price(price, Currency::USD).unwrap(),
        quantity,
    }
}

fn rate(name: &str, value: &str) -> TaxRate {
    TaxRate {
        country: "XX".into(),
        name: name.into(),
        rate: TaxRateValue::parse(value).unwrap(),
    }
}

fn code(name: &str, kind: DiscountKind, value: &str) -> DiscountCode {
    DiscountCode {
        code: name.into(),
        value: DiscountValue::parse(kind, value).unwrap(),
        minimum_subtotal_minor: None,
        starts_at: None,
        ends_at: None,
        usage_limit: None,
        times_used: 0,
        active: true,
    }
}

fn method(name: &str, price: i64, free_over: Option<i64>, countries: &[&str]) -> ShippingMethod {
    ShippingMethod {
        id: Uuid::new_v4(),
        name: name.into(),
        description: None,
        price_minor: price,
        free_over_minor: free_over,
        countries: countries.iter().map(|c| c.to_string()).collect(),
        estimated_days: Some(3),
    }
}

fn input<'a>(lines: &'a [Line]) -> CartPricing<'a> {
    CartPricing {
        lines,
        country: None,
        methods: &[],
        chosen_method: None,
        codes: &[],
        tax_rate: None,
        prices_include_tax: false,
        now: now(),
    }
}

fn amounts(cart: &PricedCart) -> [String; 5] {
    [
        cart.subtotal.to_decimal_string(),
        cart.discount_total.to_decimal_string(),
        cart.shipping_total.to_decimal_string(),
        cart.tax_total.to_decimal_string(),
        cart.total.to_decimal_string(),
    ]
}

/// The lines priced with `tax`, added to the prices or contained in them.
fn taxed(lines: &[Line], tax: &TaxRate, prices_include_tax: bool) -> PricedCart {
    price(CartPricing {
        tax_rate: Some(tax),
        prices_include_tax,
        ..input(lines)
    })
    .unwrap()
}

fn line_taxes(cart: &PricedCart) -> Vec<String> {
    cart.line_taxes
        .iter()
        .map(Money::to_decimal_string)
        .collect()
}

fn adds_up(cart: &PricedCart) -> bool {
    cart.subtotal.minor() - cart.discount_total.minor()
        + cart.shipping_total.minor()
        + cart.tax_total.minor()
        == cart.total.minor()
}

#[test]
fn rounding_is_half_even_per_line() {
    assert_eq!(div_half_even(5, 10), 0);
    assert_eq!(div_half_even(15, 10), 2);
    assert_eq!(div_half_even(25, 10), 2);
    assert_eq!(div_half_even(26, 10), 3);
    // 5 % of 0.10 is 0.005 → 0.00 (half-up would say 0.01); of 0.50 it is 0.025 → 0.02
    // (half-up: 0.03); of 0.30 it is 0.015 → 0.02 (both).
    let lines = [
        line("a", "0.10", 1),
        line("b", "0.50", 1),
        line("c", "0.30", 1),
    ];
    let tax = rate("Sales tax", "0.05");
    let cart = taxed(&lines, &tax, false);
    assert_eq!(line_taxes(&cart), ["0.00", "0.02", "0.02"]);
    // Per line, not on the sum: 5 % of 0.90 would be 0.045 → 0.04.
    assert_eq!(cart.tax_total.to_decimal_string(), "0.04");
    assert_eq!(amounts(&cart), ["0.90", "0.00", "0.00", "0.04", "0.94"]);
    assert_eq!(cart.tax_lines[0].rate.to_decimal_string(), "0.05");
    assert_eq!(cart.tax_lines[0].name, "Sales tax");
}

#[test]
fn exclusive_tax_is_added_and_inclusive_tax_is_contained() {
    let lines = [line("a", "19.99", 2), line("b", "5.00", 1)];
    let vat = rate("VAT", "0.19");
    let exclusive = taxed(&lines, &vat, false);
    // 39.98 × 0.19 = 7.5962 → 7.60; 5.00 × 0.19 = 0.95.
    assert_eq!(
        amounts(&exclusive),
        ["44.98", "0.00", "0.00", "8.55", "53.53"]
    );
    assert!(!exclusive.prices_include_tax);

    let inclusive = taxed(&lines, &vat, true);
    // 39.98 × 0.19 / 1.19 = 6.3834 → 6.38; 5.00 × 0.19 / 1.19 = 0.7983 → 0.80. Nothing added.
    assert_eq!(
        amounts(&inclusive),
        ["44.98", "0.00", "0.00", "0.00", "44.98"]
    );
    assert_eq!(inclusive.tax_lines[0].amount.to_decimal_string(), "7.18");
    assert!(inclusive.prices_include_tax);
}

#[test]
fn inclusive_tax_rounds_half_even_too() {
    // 20 % VAT contains a sixth of the gross price: 0.15 contains 0.025 → 0.02 (half-up would
    // say 0.03), 0.03 contains 0.005 → 0.00 (half-up: 0.01), 0.09 contains 0.015 → 0.02.
    let vat = rate("VAT", "0.2");
    let lines = [
        line("a", "0.15", 1),
        line("b", "0.03", 1),
        line("c", "0.09", 1),
    ];
    let cart = taxed(&lines, &vat, true);
    assert_eq!(line_taxes(&cart), ["0.02", "0.00", "0.02"]);
    assert_eq!(cart.tax_lines[0].amount.to_decimal_string(), "0.04");
    assert_eq!(amounts(&cart), ["0.27", "0.00", "0.00", "0.00", "0.27"]);
}

#[test]
fn tax_is_on_the_lines_after_their_share_of_the_discount() {
    // 10.00 off 30.00 of lines 10.00 and 20.00: shares 3.33 and 6.67 (the left-over cent to
    // the larger remainder), taxable 6.67 and 13.33; 20 % of each: 1.33(4) → 1.33, 2.66(6) → 2.67.
    let lines = [line("a", "10.00", 1), line("b", "20.00", 1)];
    let vat = rate("VAT", "0.2");
    let off = [(
        "TEN".to_owned(),
        Some(code("TEN", DiscountKind::FixedAmount, "10")),
    )];
    let cart = price(CartPricing {
        tax_rate: Some(&vat),
        codes: &off,
        ..input(&lines)
    })
    .unwrap();
    assert_eq!(allocate(1000, &[1000, 2000]), [333, 667]);
    assert_eq!(amounts(&cart), ["30.00", "10.00", "0.00", "4.00", "24.00"]);
    assert_eq!(cart.line_taxes[0].minor() + cart.line_taxes[1].minor(), 400);
}

#[test]
fn shipping_is_offered_for_the_country_and_free_over_its_threshold() {
    let lines = [line("a", "40.00", 1)];
    let standard = method("Standard", 499, None, &["US", "DE"]);
    let express = method("Express", 1500, Some(5000), &[]);
    let local = method("Local", 100, None, &["FR"]);
    let methods = [standard.clone(), express.clone(), local];
    let no_address = price(CartPricing {
        methods: &methods,
        chosen_method: Some(standard.id),
        ..input(&lines)
    })
    .unwrap();
    assert!(no_address.available_methods.is_empty());
    assert_eq!(no_address.shipping_method, None);
    assert!(!no_address.needs_shipping_method());

    let in_us = CartPricing {
        methods: &methods,
        country: Some("US"),
        ..input(&lines)
    };
    let offered = price(in_us).unwrap();
    let names: Vec<&str> = offered
        .available_methods
        .iter()
        .map(|m| m.method.name.as_str())
        .collect();
    assert_eq!(names, ["Standard", "Express"]);
    assert!(offered.needs_shipping_method());

    let chosen = price(CartPricing {
        chosen_method: Some(express.id),
        ..in_us
    })
    .unwrap();
    assert_eq!(
        amounts(&chosen),
        ["40.00", "0.00", "15.00", "0.00", "55.00"]
    );
    // From the threshold on, Express is free.
    let more = [line("a", "50.00", 1)];
    let free = price(CartPricing {
        lines: &more,
        chosen_method: Some(express.id),
        ..in_us
    })
    .unwrap();
    assert_eq!(amounts(&free), ["50.00", "0.00", "0.00", "0.00", "50.00"]);
    // A method that does not serve the country is not the cart's method.
    let in_fr = price(CartPricing {
        country: Some("FR"),
        chosen_method: Some(standard.id),
        ..in_us
    })
    .unwrap();
    assert_eq!(in_fr.shipping_method, None);
    assert!(in_fr.needs_shipping_method());
}

#[test]
fn percentage_fixed_and_free_shipping_codes() {
    let lines = [line("a", "33.33", 1)];
    let standard = method("Standard", 499, None, &[]);
    let methods = [standard.clone()];
    let base = CartPricing {
        methods: &methods,
        country: Some("US"),
        chosen_method: Some(standard.id),
        ..input(&lines)
    };
    let with_codes = |codes: &[(&str, DiscountKind, &str)]| {
        let codes: Vec<_> = codes
            .iter()
            .map(|&(name, kind, value)| (name.to_owned(), Some(code(name, kind, value))))
            .collect();
        price(CartPricing {
            codes: &codes,
            ..base
        })
        .unwrap()
    };
    // 10 % of 33.33 is 3.333 → 3.33.
    let cart = with_codes(&[("WELCOME10", DiscountKind::Percentage, "10")]);
    assert_eq!(amounts(&cart), ["33.33", "3.33", "4.99", "0.00", "34.99"]);
    assert_eq!(
        cart.discounts,
        [AppliedDiscount {
            code: "WELCOME10".into(),
            kind: DiscountKind::Percentage,
            amount: Money::from_minor(333, Currency::USD).unwrap(),
        }]
    );
    // 12.5 % of 33.33 is 4.16625 → 4.17.
    let cart = with_codes(&[("EIGHTH", DiscountKind::Percentage, "12.5")]);
    assert_eq!(cart.discount_total.to_decimal_string(), "4.17");

    let cart = with_codes(&[("FIVE", DiscountKind::FixedAmount, "5")]);
    assert_eq!(amounts(&cart), ["33.33", "5.00", "4.99", "0.00", "33.32"]);

    let cart = with_codes(&[
        ("SHIP", DiscountKind::FreeShipping, "0"),
        ("SHIP2", DiscountKind::FreeShipping, "0"),
    ]);
    // The shipping is charged and taken off again: the identity holds with it.
    assert_eq!(amounts(&cart), ["33.33", "4.99", "4.99", "0.00", "33.33"]);
    assert_eq!(cart.discounts[1].amount.minor(), 0);
    assert!(adds_up(&cart));
}

#[test]
fn a_fixed_amount_never_takes_the_total_below_zero() {
    let lines = [line("a", "3.00", 1)];
    let big = [
        (
            "BIG".to_owned(),
            Some(code("BIG", DiscountKind::FixedAmount, "50")),
        ),
        (
            "MORE".to_owned(),
            Some(code("MORE", DiscountKind::Percentage, "100")),
        ),
    ];
    let vat = rate("VAT", "0.2");
    let cart = price(CartPricing {
        codes: &big,
        tax_rate: Some(&vat),
        ..input(&lines)
    })
    .unwrap();
    assert_eq!(amounts(&cart), ["3.00", "3.00", "0.00", "0.00", "0.00"]);
    assert_eq!(cart.discounts[0].amount.minor(), 300);
    assert_eq!(cart.discounts[1].amount.minor(), 0);
}

#[test]
fn minimum_subtotal_validity_window_limit_and_deactivation() {
    let lines = [line("a", "20.00", 1)];
    let mut minimum = code("MIN", DiscountKind::Percentage, "10");
    minimum.minimum_subtotal_minor = Some(2001);
    assert_eq!(
        minimum.check(2000, now()),
        Err(DiscountRefusal::NotApplicable)
    );
    assert_eq!(minimum.check(2001, now()), Ok(()));

    let mut window = code("WINDOW", DiscountKind::Percentage, "10");
    window.starts_at = Some(now() - Duration::hours(1));
    window.ends_at = Some(now() + Duration::hours(1));
    assert_eq!(window.check(1, now()), Ok(()));
    assert_eq!(
        window.check(1, now() - Duration::hours(2)),
        Err(DiscountRefusal::NotApplicable)
    );
    assert_eq!(
        window.check(1, now() + Duration::hours(1)),
        Err(DiscountRefusal::Expired)
    );

    let mut used_up = code("USED", DiscountKind::Percentage, "10");
    used_up.usage_limit = Some(3);
    used_up.times_used = 3;
    assert_eq!(used_up.check(1, now()), Err(DiscountRefusal::LimitReached));
    let mut off = code("OFF", DiscountKind::Percentage, "10");
    off.active = false;
    assert_eq!(off.check(1, now()), Err(DiscountRefusal::Expired));

    let codes = [
        ("MIN".to_owned(), Some(minimum)),
        ("GONE".to_owned(), None),
        ("WINDOW".to_owned(), Some(window)),
    ];
    let cart = price(CartPricing {
        codes: &codes,
        ..input(&lines)
    })
    .unwrap();
    assert_eq!(
        cart.refused,
        [
            ("MIN".to_owned(), DiscountRefusal::NotApplicable),
            ("GONE".to_owned(), DiscountRefusal::NotFound)
        ]
    );
    assert_eq!(amounts(&cart), ["20.00", "2.00", "0.00", "0.00", "18.00"]);
}

#[test]
fn values_parse_exactly_and_refuse_what_does_not_fit() {
    assert_eq!(TaxRateValue::parse("0.0725").unwrap().millionths(), 72_500);
    assert_eq!(
        TaxRateValue::parse("0.2").unwrap().to_decimal_string(),
        "0.2"
    );
    assert_eq!(TaxRateValue::parse("0").unwrap().to_decimal_string(), "0");
    assert!(TaxRateValue::parse("1").is_err());
    assert!(TaxRateValue::parse("-0.1").is_err());
    assert!(TaxRateValue::parse("0.1234567").is_err());
    assert!(TaxRateValue::parse("0.").is_err());
    assert_eq!(
        DiscountValue::parse(DiscountKind::Percentage, "12.5")
            .unwrap()
            .to_decimal_string(),
        "12.5"
    );
    assert!(DiscountValue::parse(DiscountKind::Percentage, "0").is_err());
    assert!(DiscountValue::parse(DiscountKind::Percentage, "100.01").is_err());
    assert!(DiscountValue::parse(DiscountKind::FixedAmount, "-5").is_err());
    assert!(DiscountValue::parse(DiscountKind::FixedAmount, "0").is_err());
    assert!(DiscountValue::parse(DiscountKind::FreeShipping, "1").is_err());
    assert_eq!(normalize_code(" welcome10 ").as_deref(), Some("WELCOME10"));
    assert_eq!(normalize_code("no spaces"), None);
    assert_eq!(normalize_code(""), None);
}

/// One generated code: 0 percentage, 1 fixed amount, 2 free shipping, with its raw value.
fn generated_code(index: usize, (kind, value): (u8, u32)) -> (String, Option<DiscountCode>) {
    let name = format!("C{index}");
    let found = match kind {
        0 => code(
            &name,
            DiscountKind::Percentage,
            &(1 + value % 100).to_string(),
        ),
        1 => code(
            &name,
            DiscountKind::FixedAmount,
            &(1 + value % 2_000).to_string(),
        ),
        _ => code(&name, DiscountKind::FreeShipping, "0"),
    };
    (name, Some(found))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

    /// For any cart, codes, shipping and rate: the totals add up, nothing is negative, and with
    /// prices that include tax the amount charged is what the cart costs untaxed.
    #[test]
    fn for_any_cart_codes_and_rates_the_totals_add_up_and_nothing_is_negative(
        lines in proptest::collection::vec((0u64..100_000, 1i32..6), 0..6),
        shipping_minor in 0i64..3_000,
        free_over_minor in proptest::option::of(0i64..50_000),
        codes in proptest::collection::vec((0u8..3, 0u32..10_000), 0..4),
        rate_millionths in 0i64..300_000,
    ) {
        let lines: Vec<Line> = lines
            .iter()
            .enumerate()
            .map(|(i, (cents, quantity))| {
                line(&format!("p{i}"), &format!("{}.{:02}", cents / 100, cents % 100), *quantity)
            })
            .collect();
        let shipping = method("M", shipping_minor, free_over_minor, &[]);
        let methods = [shipping.clone()];
        let codes: Vec<(String, Option<DiscountCode>)> = codes
            .into_iter()
            .enumerate()
            .map(|(i, c)| generated_code(i, c))
            .collect();
        let tax = TaxRate {
            country: "XX".into(),
            name: "Tax".into(),
            rate: TaxRateValue::from_millionths(rate_millionths).unwrap(),
        };
        let base = CartPricing {
            lines: &lines,
            country: Some("XX"),
            methods: &methods,
            chosen_method: Some(shipping.id),
            codes: &codes,
            tax_rate: Some(&tax),
            prices_include_tax: false,
            now: now(),
        };
        for include in [false, true] {
            let cart = price(CartPricing {
                prices_include_tax: include,
                ..base
            })
            .unwrap();
            proptest::prop_assert!(adds_up(&cart), "{cart:?}");
            for amount in [
                cart.subtotal,
                cart.discount_total,
                cart.shipping_total,
                cart.tax_total,
                cart.total,
            ]
            .iter()
            .chain(cart.line_taxes.iter())
            .chain(cart.discounts.iter().map(|d| &d.amount))
            {
                proptest::prop_assert!(amount.minor() >= 0, "{cart:?}");
            }
            proptest::prop_assert!(
                cart.discount_total.minor() <= cart.subtotal.minor() + cart.shipping_total.minor()
            );
        }
        // With prices that include tax, the amount charged does not depend on the rate: it is
        // what the same cart costs with no tax at all.
        let inclusive = price(CartPricing {
            prices_include_tax: true,
            ..base
        })
        .unwrap();
        let untaxed = price(CartPricing {
            tax_rate: None,
            ..base
        })
        .unwrap();
        proptest::prop_assert_eq!(inclusive.total, untaxed.total);
    }
}
