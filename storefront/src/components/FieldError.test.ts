import { describe, expect, it } from "vitest";

import { fieldErrors } from "./FieldError";

describe("fieldErrors", () => {
  it("puts each userError beside its field, without the field's path in the message", () => {
    const errors = fieldErrors(
      [
        { field: ["input", "shippingAddress", "city"], message: "shippingAddress.city must not be empty" },
        { field: ["input", "shippingAddress", "country"], message: "must be a two-letter ISO 3166 country code" },
        { field: ["input", "idempotencyKey"], message: "this idempotency key was used" },
        { field: null, message: "the cart is empty" },
      ],
      ["city", "country"],
    );
    expect(errors).toEqual({
      city: "Must not be empty",
      country: "must be a two-letter ISO 3166 country code",
      "": "this idempotency key was used; the cart is empty",
    });
  });
});
