// Choosing a variant by its option values. A product without options has one variant (itself),
// so every product is bought by a variant's id. Pure functions: the product page keeps the
// choice, these say which variant it names.

export interface VariantLike {
  id: string;
  selectedOptions: readonly { name: string; value: string }[];
  stock: { available: number };
}

/** Option name → chosen value. */
export type Choice = Record<string, string>;

/** The variant whose option values are exactly `choice`'s, if the product sells it. */
export function variantFor<V extends VariantLike>(variants: readonly V[], choice: Choice): V | undefined {
  return variants.find(
    (v) =>
      v.selectedOptions.length === Object.keys(choice).length &&
      v.selectedOptions.every((o) => choice[o.name] === o.value),
  );
}

/** What the page starts with: the first variant in stock, else the first. */
export function initialChoice(variants: readonly VariantLike[]): Choice {
  const start = variants.find((v) => v.stock.available > 0) ?? variants[0];
  return Object.fromEntries((start?.selectedOptions ?? []).map((o) => [o.name, o.value]));
}

/** Whether choosing `value` for `option` (the other choices kept) names a variant sold. */
export function isSold(variants: readonly VariantLike[], choice: Choice, option: string, value: string): boolean {
  return variantFor(variants, { ...choice, [option]: value }) !== undefined;
}

/** "Classic Tee, Red / M"; a product without options is named alone (its one variant's title
 * is its name). */
export function lineName(product: string, variantTitle: string): string {
  return variantTitle === product ? product : `${product}, ${variantTitle}`;
}
