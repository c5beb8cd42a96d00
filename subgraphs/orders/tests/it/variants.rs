//! Carts of variants: a line is one variant of a product, priced from it, and the order keeps
//! the variant as it was.

use emporium_kernel::ids::{Quantity, UserId};
use emporium_kernel::money::{Currency, Money};
use emporium_orders::store::{
    CartChange, CatalogProduct, CatalogVariant, LineTarget, Resolution, ResolvedVariant,
};
use uuid::Uuid;

use crate::Fixture;

fn usd(amount: &str) -> Money {
    Money::parse_price(amount, Currency::USD).expect("price")
}

fn variant(id: &str, title: &str, price: &str) -> CatalogVariant {
    CatalogVariant {
        variant_id: id.to_owned(),
        sku: format!("TEE-{}", title.replace(" / ", "-")),
        title: title.to_owned(),
        price: usd(price),
    }
}

fn tee(id: &str, variants: Vec<CatalogVariant>, sequence: i64) -> CatalogProduct {
    CatalogProduct {
        product_id: id.to_owned(),
        sku: "TEE".to_owned(),
        name: "Tee".to_owned(),
        price: usd("20.00"),
        variants,
        sequence,
    }
}

fn new_id() -> String {
    Uuid::now_v7().to_string()
}

#[tokio::test]
async fn a_line_is_the_variant_chosen_priced_from_it_and_ordered_as_it_was() {
    let fx = Fixture::new().await;
    let (product, red_m, blue_l) = (new_id(), new_id(), new_id());
    fx.store
        .project_product(&tee(
            &product,
            vec![
                variant(&red_m, "Red / M", "20.00"),
                variant(&blue_l, "Blue / L", "22.50"),
            ],
            1,
        ))
        .await
        .expect("project");
    let user = UserId::from(Uuid::now_v7());
    let two = Quantity::try_from(2).expect("quantity");
    let by_product = LineTarget::Product(product.parse().expect("id"));
    let by_variant = |id: &str| LineTarget::Variant(id.parse().expect("id"));

    // Which of several variants is not said by the product's id.
    assert_eq!(
        fx.store.resolve(&by_product).await.expect("resolve"),
        Resolution::Ambiguous
    );
    assert_eq!(
        fx.store.add(user, &by_product, two).await.expect("add"),
        CartChange::VariantRequired
    );
    assert_eq!(
        fx.store
            .add(user, &by_variant(&new_id()), two)
            .await
            .expect("add"),
        CartChange::UnknownProduct
    );
    // The product's own id is not a variant of a product with options.
    assert_eq!(
        fx.store
            .add(user, &by_variant(&product), two)
            .await
            .expect("add"),
        CartChange::UnknownProduct
    );
    for target in [by_variant(&blue_l), by_variant(&blue_l), by_variant(&red_m)] {
        assert_eq!(
            fx.store.add(user, &target, two).await.expect("add"),
            CartChange::Done
        );
    }
    let cart = fx.store.cart(user).await.expect("cart");
    let lines: Vec<_> = cart
        .iter()
        .map(|l| {
            (
                l.variant_id.as_str(),
                l.variant_title.as_str(),
                l.sku.as_str(),
                l.unit_price.to_decimal_string(),
                l.quantity,
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (
                blue_l.as_str(),
                "Blue / L",
                "TEE-Blue-L",
                "22.50".to_owned(),
                4
            ),
            (
                red_m.as_str(),
                "Red / M",
                "TEE-Red-M",
                "20.00".to_owned(),
                2
            ),
        ]
    );

    let order = fx.place(user).await;
    assert_eq!(order.subtotal.to_decimal_string(), "130.00");
    let items = fx
        .orders
        .items(order.id, Currency::USD)
        .await
        .expect("items");
    assert_eq!(items, cart, "the order keeps the lines as they were");
    let placed = fx.events_of(order.id, "order.placed").await;
    let item = &placed[0]["items"][0];
    assert_eq!(item["productId"], product.as_str());
    assert_eq!(item["variantId"], blue_l.as_str());
    assert_eq!(item["variantTitle"], "Blue / L");
    assert_eq!(item["sku"], "TEE-Blue-L");
    assert_eq!(item["unitPrice"], "22.50");
}

#[tokio::test]
async fn a_variant_the_product_no_longer_has_leaves_the_cart_and_a_single_one_is_the_products() {
    let fx = Fixture::new().await;
    let (product, red_m, blue_l) = (new_id(), new_id(), new_id());
    let both = vec![
        variant(&red_m, "Red / M", "20.00"),
        variant(&blue_l, "Blue / L", "22.50"),
    ];
    fx.store
        .project_product(&tee(&product, both, 1))
        .await
        .expect("project");
    let user = UserId::from(Uuid::now_v7());
    let one = Quantity::try_from(1).expect("quantity");
    for id in [&red_m, &blue_l] {
        fx.store
            .add(user, &LineTarget::Variant(id.parse().expect("id")), one)
            .await
            .expect("add");
    }
    // The catalogue drops the Blue L, and reprices the Red M: an older event changes nothing.
    let newer = vec![variant(&red_m, "Red / M", "18.00")];
    fx.store
        .project_product(&tee(&product, newer, 3))
        .await
        .expect("project");
    let stale = vec![variant(&blue_l, "Blue / L", "1.00")];
    assert!(!fx
        .store
        .project_product(&tee(&product, stale, 2))
        .await
        .expect("project"));
    let cart = fx.store.cart(user).await.expect("cart");
    assert_eq!(cart.len(), 1);
    assert_eq!(cart[0].variant_id, red_m);
    assert_eq!(cart[0].unit_price.to_decimal_string(), "18.00");

    // With one variant left, the product's id names it.
    let by_product = LineTarget::Product(product.parse().expect("id"));
    assert_eq!(
        fx.store.resolve(&by_product).await.expect("resolve"),
        Resolution::Found(ResolvedVariant {
            product_id: product.clone(),
            variant_id: red_m.clone(),
        })
    );
    fx.store
        .set(user, &by_product, Quantity::try_from(5).ok())
        .await
        .expect("set");
    assert_eq!(fx.store.cart(user).await.expect("cart")[0].quantity, 5);
}
