import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";

import { TableHead } from "./TableHead";

describe("TableHead", () => {
  it("gives the table a caption and each column a header, hidden ones for assistive technology only", () => {
    const html = renderToStaticMarkup(
      <table>
        <TableHead caption="Cart lines" columns={["Product", { hidden: "Remove" }]} />
      </table>,
    );
    expect(html).toBe(
      '<table><caption class="visually-hidden">Cart lines</caption><thead><tr>' +
        '<th scope="col">Product</th>' +
        '<th scope="col"><span class="visually-hidden">Remove</span></th>' +
        "</tr></thead></table>",
    );
  });
});
