// userErrors shown beside the field they name (the last element of their `field` path); an
// error without a field is shown at the top of the form under the key "".
import type { ReactNode } from "react";

export type FieldErrors = Record<string, string>;

export function fieldErrors(
  userErrors: readonly { field?: readonly string[] | null; message: string }[],
  known: readonly string[],
): FieldErrors {
  const errors: FieldErrors = {};
  for (const error of userErrors) {
    const named = error.field?.[error.field.length - 1] ?? "";
    const key = known.includes(named) ? named : "";
    errors[key] = errors[key] === undefined ? error.message : `${errors[key]}; ${error.message}`;
  }
  return errors;
}

export function FieldError({ errors, field }: { errors: FieldErrors; field: string }): ReactNode {
  const message = errors[field];
  if (message === undefined) return null;
  return (
    <p className="field-error" role="alert">
      {message}
    </p>
  );
}

/** A text field's value from a submitted form ("" when absent). */
export function formText(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === "string" ? value : "";
}
