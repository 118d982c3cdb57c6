// The options jitsi's prosody plugins read before they turn themselves on. A plugin whose option is missing
// does not fail: it logs one line at start and returns, and the feature (lobby, breakout rooms, moderation,
// polls, ...) is simply absent from every conference. So the check reads the rendered prosody.cfg.lua: every
// module it loads, as a Component's module or in a modules_enabled list, must find each option it needs in
// its own section or in the global one (where prosody's module:get_option falls back to).
//
// The facts come from jitsi-meet's source, resources/prosody-plugins/mod_NAME.lua: the line where the plugin
// logs that it turns itself off and returns, at the stable releases 7648, 9646 and 11031 (jitsi/jitsi-meet
// branches stable/jitsi-meet_N). The agent's catalog holds the same log lines, so a deployment that misses
// one is also reported from prosody's log.
import { isLuaTable, luaString, type ProsodySection } from "../grammar/index.js";
import type { Checker } from "./checker.js";
import type { View } from "./view.js";

export interface PluginNeed {
  /** The module's name in prosody.cfg.lua (mod_NAME.lua). */
  module: string;
  option: string;
  /** Where the plugin turns itself off without it: file:line at a release. */
  source: string;
  /** Needed only where the module is a Component's own (end_conference is a host module too). */
  componentOnly?: true;
}

export const PLUGIN_NEEDS: readonly PluginNeed[] = [
  { module: "muc_lobby_rooms", option: "main_muc", source: "mod_muc_lobby_rooms.lua:57 (9646), :99 (11031)" },
  {
    module: "muc_lobby_rooms",
    option: "lobby_muc",
    source: "mod_muc_lobby_rooms.lua:62 (9646), :104 (11031)",
  },
  {
    module: "muc_breakout_rooms",
    option: "main_muc",
    source: "mod_muc_breakout_rooms.lua:56 (9646), :59 (11031)",
  },
  {
    module: "conference_duration",
    option: "main_muc",
    source: "mod_conference_duration.lua:6 (9646), :9 (11031)",
  },
  {
    module: "muc_filter_access",
    option: "muc_filter_whitelist",
    source: "mod_muc_filter_access.lua:8 (9646)",
  },
  {
    module: "speakerstats_component",
    option: "muc_component",
    source: "mod_speakerstats_component.lua:24 (9646), :36 (11031)",
  },
  {
    module: "conference_duration_component",
    option: "muc_component",
    source: "mod_conference_duration_component.lua:17 (9646)",
  },
  {
    module: "end_conference",
    option: "muc_component",
    source: "mod_end_conference.lua:31 (9646), :35 (11031)",
    componentOnly: true,
  },
  {
    module: "end_conference",
    option: "muc_mapper_domain_base",
    source: "mod_end_conference.lua:41 (11031)",
    componentOnly: true,
  },
  {
    module: "av_moderation_component",
    option: "muc_component",
    source: "mod_av_moderation_component.lua:13 (9646), :16 (11031)",
  },
  {
    module: "av_moderation_component",
    option: "muc_mapper_domain_base",
    source: "mod_av_moderation_component.lua:22 (11031)",
  },
  {
    module: "room_metadata_component",
    option: "muc_component",
    source: "mod_room_metadata_component.lua:31 (9646), :88 (11031)",
  },
  {
    module: "room_metadata_component",
    option: "muc_mapper_domain_base",
    source: "mod_room_metadata_component.lua:94 (11031)",
  },
  {
    module: "polls_component",
    option: "muc_mapper_domain_base",
    source: "mod_polls_component.lua:26 (11031)",
  },
  {
    module: "muc_domain_mapper",
    option: "muc_mapper_domain_base",
    source: "mod_muc_domain_mapper.lua:10 (7648)",
  },
];

/** Where a section loads a module, or undefined: `Component "x" "NAME"`, or NAME in its modules_enabled. */
function loads(s: ProsodySection, module: string): "module" | "modules_enabled" | undefined {
  if (s.kind === "Component" && s.module === module) return "module";
  const list = s.settings.modules_enabled;
  return isLuaTable(list) && list.items.some((i) => luaString(i) === module) ? "modules_enabled" : undefined;
}

export function checkPluginOptions(c: Checker, v: View): void {
  const sections = v.prosody(v.one("xmpp"));
  const global = sections.find((s) => s.kind === "global")?.settings ?? {};
  let loaded = 0;
  for (const s of sections) {
    const where = s.kind === "global" ? "the global section" : `${s.kind} "${s.name}"`;
    for (const need of PLUGIN_NEEDS) {
      const how = loads(s, need.module);
      if (!how || (need.componentOnly && how !== "module")) continue;
      loaded += 1;
      c.expect(s.settings[need.option] !== undefined || global[need.option] !== undefined, () =>
        v.prosodyAt(
          `${where} loads ${need.module} (${how}) but sets no ${need.option}, here or globally: the plugin turns itself off without it (jitsi-meet resources/prosody-plugins/${need.source})`,
        ),
      );
    }
  }
  if (loaded === 0) c.note("no jitsi plugin with required options is loaded");
}
