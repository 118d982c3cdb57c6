import { SpecSchema } from "@vmmeet/shared";
import { z } from "zod";

/** JSON Schema of the spec as a person writes it (input side: defaults are optional). */
export function specJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(SpecSchema, { io: "input", unrepresentable: "any" }),
    title: "vmmeet deployment spec",
    $id: "https://vmmeet.invalid/vmmeet.schema.json",
  };
}
