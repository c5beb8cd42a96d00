// Typed documents from the repository's composed supergraph. `npm run codegen` writes
// src/gql/; `npm run codegen:check` generates into a temporary directory and fails when
// src/gql/ differs (stale after a schema or document change).
import type { CodegenConfig } from "@graphql-codegen/cli";

const out = process.env.CODEGEN_OUT ?? "src/gql/";

const config: CodegenConfig = {
  schema: "../schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**/*"],
  ignoreNoDocuments: false,
  generates: {
    [out]: {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { Decimal: "string", DateTime: "string", ID: "string", join__FieldSet: "string" },
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        skipTypename: false,
      },
    },
  },
};

export default config;
