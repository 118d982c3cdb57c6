// HoconCheck: parse a jicofo.conf / jvb.conf with the real Typesafe Config library (Debian
// libtypesafe-config-java 1.3.1; Jitsi bundles 1.4.2, same HOCON syntax: docs/jitsi-config-notes.md section 4),
// layer it over optional reference.conf files, resolve, check required paths, print JSON.
//
// Single file (for humans):
//   java -cp /usr/share/java/typesafe-config.jar HoconCheck.java FILE [--reference REF]... \
//        [--require PATH]... [--get PATH]... [--quiet]
//   prints the resolved config as JSON (unless --quiet), "MISSING PATH" lines on stderr.
// Batch (one JVM start for many files; used by test/validators/hocon.ts):
//   java -cp ... HoconCheck.java --batch MANIFEST.json
//   MANIFEST is JSON {"items":[{"file":F,"references":[...],"require":[...],"get":[...]}, ...]}; prints one JSON
//   object per item and line: {"index":N,"code":C,"error":E,"missing":[...],"got":{...},"values":{...}}.
// Exit code: 0 ok, 2 parse/resolve error, 3 a required path is missing (batch: the highest item code),
// 64 usage.
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigSyntax;
import java.io.File;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public class HoconCheck {
  static final ConfigRenderOptions JSON = ConfigRenderOptions.concise().setJson(true);

  static final class Item {
    String file;
    List<String> references = new ArrayList<>();
    List<String> require = new ArrayList<>();
    List<String> get = new ArrayList<>();
  }

  static final class Outcome {
    int code;
    String error;
    List<String> missing = new ArrayList<>();
    Map<String, String> got = new LinkedHashMap<>(); // path -> JSON text
    String valuesJson;
  }

  static Config parse(String file) {
    // CONF whatever the file name: jicofo/jvb read `-Dconfig.file=/etc/jicofo/jicofo.conf` as HOCON.
    ConfigParseOptions opts =
        ConfigParseOptions.defaults().setSyntax(ConfigSyntax.CONF).setAllowMissing(false);
    return ConfigFactory.parseFile(new File(file), opts);
  }

  static Outcome check(Item item) {
    Outcome o = new Outcome();
    Config resolved;
    try {
      Config merged = parse(item.file);
      for (String ref : item.references) merged = merged.withFallback(parse(ref));
      // Resolve after layering, so a reference.conf substitution such as
      // `jicofo.octo.sctp-datachannels = ${jicofo.sctp.enabled}` sees the file's value. The process
      // environment is not consulted: a check must not depend on who runs it.
      resolved = merged.resolve(ConfigResolveOptions.defaults().setUseSystemEnvironment(false));
    } catch (ConfigException e) {
      o.code = 2;
      o.error = e.getMessage();
      return o;
    }
    for (String p : item.require) {
      boolean present;
      try {
        present = resolved.hasPath(p);
      } catch (ConfigException e) {
        present = false; // a malformed path expression is as good as missing
      }
      if (!present) o.missing.add(p);
    }
    for (String p : item.get) {
      try {
        if (resolved.hasPath(p)) o.got.put(p, resolved.getValue(p).render(JSON));
      } catch (ConfigException e) {
        // not a valid path expression: reported as absent
      }
    }
    o.code = o.missing.isEmpty() ? 0 : 3;
    o.valuesJson = resolved.root().render(JSON);
    return o;
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': b.append("\\\""); break;
        case '\\': b.append("\\\\"); break;
        case '\n': b.append("\\n"); break;
        case '\r': b.append("\\r"); break;
        case '\t': b.append("\\t"); break;
        default:
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
      }
    }
    return b.append('"').toString();
  }

  static String toJson(int index, Outcome o) {
    StringBuilder b = new StringBuilder("{\"index\":").append(index).append(",\"code\":").append(o.code);
    if (o.error != null) b.append(",\"error\":").append(quote(o.error));
    b.append(",\"missing\":[");
    for (int i = 0; i < o.missing.size(); i++) b.append(i > 0 ? "," : "").append(quote(o.missing.get(i)));
    b.append("],\"got\":{");
    int n = 0;
    for (Map.Entry<String, String> e : o.got.entrySet()) {
      b.append(n++ > 0 ? "," : "").append(quote(e.getKey())).append(':').append(e.getValue());
    }
    b.append('}');
    if (o.valuesJson != null) b.append(",\"values\":").append(o.valuesJson);
    return b.append('}').toString();
  }

  static List<String> strings(Config c, String key) {
    return c.hasPath(key) ? c.getStringList(key) : new ArrayList<>();
  }

  static int batch(String manifest) {
    List<? extends Config> entries =
        ConfigFactory.parseFile(new File(manifest), ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON))
            .root()
            .toConfig()
            .getConfigList("items");
    int worst = 0;
    for (int i = 0; i < entries.size(); i++) {
      Config e = entries.get(i);
      Item item = new Item();
      item.file = e.getString("file");
      item.references = strings(e, "references");
      item.require = strings(e, "require");
      item.get = strings(e, "get");
      Outcome o = check(item);
      worst = Math.max(worst, o.code);
      System.out.println(toJson(i, o));
    }
    return worst;
  }

  public static void main(String[] args) {
    if (args.length == 2 && args[0].equals("--batch")) System.exit(batch(args[1]));
    Item item = new Item();
    boolean quiet = false;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--quiet")) quiet = true;
      else if ((a.equals("--reference") || a.equals("--require") || a.equals("--get")) && i + 1 < args.length) {
        String v = args[++i];
        (a.equals("--reference") ? item.references : a.equals("--require") ? item.require : item.get).add(v);
      } else if (item.file == null && !a.startsWith("--")) item.file = a;
      else {
        System.err.println("usage: HoconCheck FILE [--reference REF]... [--require PATH]... [--get PATH]... [--quiet]");
        System.exit(64);
      }
    }
    if (item.file == null) {
      System.err.println("usage: HoconCheck FILE [--reference REF]... [--require PATH]... [--get PATH]... [--quiet]");
      System.exit(64);
    }
    Outcome o = check(item);
    if (o.error != null) System.err.println("PARSE/RESOLVE ERROR: " + o.error);
    for (String m : o.missing) System.err.println("MISSING " + m);
    for (Map.Entry<String, String> e : o.got.entrySet()) System.out.println(e.getKey() + " = " + e.getValue());
    if (!quiet && o.valuesJson != null) System.out.println(o.valuesJson);
    System.exit(o.code);
  }
}
