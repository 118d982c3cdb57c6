// A simulator process's life: its command line (as rc.d's flags hand it over) and its stop on rc.subr's
// signals.

/**
 * Parse `--name value`, `--name=value` and bare words. Repeated options become arrays only for the
 * names in `multi`.
 */
export function parseArgs(argv, { multi = [] } = {}) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      out._.push(a);
      continue;
    }
    let name = a.slice(2);
    let value;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
      value = argv[++i];
    } else {
      value = "true";
    }
    if (multi.includes(name)) out[name] = [...(out[name] ?? []), value];
    else out[name] = value;
  }
  return out;
}

/**
 * A simulator's command line: `--help` prints `help` and exits 0; without --root and --net it prints `help`
 * to stderr and exits 64 (EX_USAGE). --address may repeat.
 */
export function simulatorArgs(help, argv = process.argv.slice(2)) {
  const args = parseArgs(argv, { multi: ["address"] });
  if (args.help) {
    process.stdout.write(help);
    process.exit(0);
  }
  if (!args.root || !args.net) {
    process.stderr.write(help);
    process.exit(64);
  }
  return args;
}

/** Exit cleanly on SIGTERM/SIGINT (rc.subr's stop), running `cleanup` first. */
export function onStop(cleanup, signals = ["SIGTERM", "SIGINT"]) {
  for (const s of signals) {
    process.on(s, () => {
      // cleanup may return a promise (prosody closes its sessions with a stream error first).
      let done;
      try {
        done = Promise.resolve(cleanup());
      } catch {
        done = Promise.resolve();
      }
      done.finally(() => process.exit(0));
    });
  }
}
