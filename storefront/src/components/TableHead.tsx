// A data table's caption (for assistive technology only) and its column headers. A column
// whose header is only for assistive technology is given as `{ hidden: "Name" }`.
import type { ReactNode } from "react";

export type Column = string | { hidden: string };

export function TableHead({ caption, columns }: { caption: string; columns: Column[] }): ReactNode {
  return (
    <>
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          {columns.map((column) =>
            typeof column === "string" ? (
              <th scope="col" key={column}>
                {column}
              </th>
            ) : (
              <th scope="col" key={column.hidden}>
                <span className="visually-hidden">{column.hidden}</span>
              </th>
            ),
          )}
        </tr>
      </thead>
    </>
  );
}
