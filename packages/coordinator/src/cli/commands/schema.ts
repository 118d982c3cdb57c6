import { specJsonSchema } from "../../spec/json-schema.js";
import { parse } from "../args.js";
import { type Command, EXIT } from "../io.js";

export const schema: Command = {
  name: "schema",
  usage: `vmmeet schema

Prints the JSON Schema (draft 2020-12) of vmmeet.yaml, generated from the same zod schema that 'vmmeet validate'
uses. With the YAML language server: '# yaml-language-server: $schema=./vmmeet.schema.json' on the spec's first line.

Exit status: 0.`,
  async run(argv, io) {
    parse(argv, {}, 0);
    io.out(`${JSON.stringify(specJsonSchema(), null, 2)}\n`);
    return EXIT.ok;
  },
};
