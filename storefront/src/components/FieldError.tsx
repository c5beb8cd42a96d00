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
    const message = withoutFieldPath(error.message, error.field);
    errors[key] = errors[key] === undefined ? message : `${errors[key]}; ${message}`;
  }
  return errors;
}

/** "shippingAddress.city must not be empty" beside the City field reads "Must not be empty". */
function withoutFieldPath(message: string, field: readonly string[] | null | undefined): string {
  const path = field?.slice(1).join(".");
  if (path === undefined || path === "" || !message.startsWith(`${path} `)) return message;
  const rest = message.slice(path.length + 1);
  return rest.charAt(0).toUpperCase() + rest.slice(1);
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
