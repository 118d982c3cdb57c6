import path from "node:path";

/** SPEC defaults to ./vmmeet.yaml; the state directory to .vmmeet/ beside the spec. */
export function specPaths(cwd: string, spec: string | undefined, state: string | undefined) {
  const specFile = path.resolve(cwd, spec ?? "vmmeet.yaml");
  return { spec: specFile, state: path.resolve(cwd, state ?? path.join(path.dirname(specFile), ".vmmeet")) };
}
