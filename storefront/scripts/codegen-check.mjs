// Fails when src/gql/ is not what graphql-codegen makes from ../schema.graphql and the
// documents now: it generates into a temporary directory and compares file by file.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const fresh = mkdtempSync(join(tmpdir(), "storefront-codegen-"));
try {
  execFileSync("npx", ["graphql-codegen", "--config", "codegen.ts", "--silent"], {
    env: { ...process.env, CODEGEN_OUT: `${fresh}/` },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const names = (dir) => readdirSync(dir).sort();
  const expected = names(fresh);
  const committed = names("src/gql");
  const stale = [
    ...expected.filter((name) => !committed.includes(name) || readFileSync(join(fresh, name), "utf8") !== readFileSync(join("src/gql", name), "utf8")),
    ...committed.filter((name) => !expected.includes(name)),
  ];
  if (stale.length > 0) {
    console.error(`src/gql is stale (${stale.join(", ")}): run \`npm run codegen\` in storefront/ and commit the result`);
    process.exit(1);
  }
  console.log(`codegen: src/gql is fresh (${expected.length} files)`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
