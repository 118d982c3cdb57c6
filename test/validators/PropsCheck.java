// PropsCheck: read a sip-communicator.properties the way jvb does, with java.util.Properties.load
// (ISO-8859-1 stream, backslash continuations, backslash-u escapes), and report what it would see.
//
//   java PropsCheck.java FILE [--require KEY]... [FILE [--require KEY]...]...
//
// Prints one JSON object per file and line:
//   {"index":N,"code":C,"error":E,"properties":{...},"missing":[...],"warnings":[...]}
// Warnings (docs/jitsi-config-notes.md section 7): a value with leading/trailing blanks (Properties keeps a trailing
// blank: `true ` is not `true`), and a backslash-continued line (the paper's "must be written in three
// lines" - Properties accepts the wrapped form, but it hides such blanks).
// Exit code (the highest over all files): 0 ok, 2 unreadable/malformed, 3 a required key is missing,
// 4 warnings only, 64 usage.
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.TreeSet;

public class PropsCheck {
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
          if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
      }
    }
    return b.append('"').toString();
  }

  static String list(List<String> xs) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < xs.size(); i++) b.append(i > 0 ? "," : "").append(quote(xs.get(i)));
    return b.append(']').toString();
  }

  /** Physical lines that end a non-comment logical line with an odd number of backslashes. */
  static List<Integer> continuationLines(String raw) {
    List<Integer> out = new ArrayList<>();
    String[] lines = raw.split("\r\n|\r|\n", -1);
    boolean continuing = false;
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i];
      String t = line.stripLeading();
      boolean comment = !continuing && (t.startsWith("#") || t.startsWith("!"));
      int slashes = 0;
      for (int j = line.length() - 1; j >= 0 && line.charAt(j) == '\\'; j--) slashes++;
      continuing = !comment && slashes % 2 == 1;
      if (continuing) out.add(i + 1);
    }
    return out;
  }

  static int check(int index, String file, List<String> require) {
    Properties props = new Properties();
    String raw;
    try (InputStream in = new FileInputStream(file)) {
      props.load(in);
      raw = new String(Files.readAllBytes(Paths.get(file)), StandardCharsets.ISO_8859_1);
    } catch (IOException | IllegalArgumentException e) {
      System.out.println("{\"index\":" + index + ",\"code\":2,\"error\":" + quote(String.valueOf(e.getMessage()))
          + ",\"properties\":{},\"missing\":[],\"warnings\":[]}");
      return 2;
    }
    List<String> missing = new ArrayList<>();
    for (String k : require) if (props.getProperty(k) == null) missing.add(k);
    List<String> warnings = new ArrayList<>();
    StringBuilder kv = new StringBuilder("{");
    int n = 0;
    for (String k : new TreeSet<>(props.stringPropertyNames())) {
      String v = props.getProperty(k);
      kv.append(n++ > 0 ? "," : "").append(quote(k)).append(':').append(quote(v));
      if (!v.equals(v.strip())) warnings.add("value of " + k + " has leading/trailing blanks: [" + v + "]");
    }
    kv.append('}');
    for (int line : continuationLines(raw)) {
      warnings.add("line " + line + " continues with a backslash (a logical line split over physical lines)");
    }
    int code = !missing.isEmpty() ? 3 : !warnings.isEmpty() ? 4 : 0;
    System.out.println("{\"index\":" + index + ",\"code\":" + code + ",\"properties\":" + kv
        + ",\"missing\":" + list(missing) + ",\"warnings\":" + list(warnings) + "}");
    return code;
  }

  public static void main(String[] args) {
    List<String> files = new ArrayList<>();
    List<List<String>> requires = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--require") && i + 1 < args.length && !files.isEmpty()) {
        requires.get(requires.size() - 1).add(args[++i]);
      } else if (!args[i].startsWith("--")) {
        files.add(args[i]);
        requires.add(new ArrayList<>());
      } else {
        System.err.println("usage: PropsCheck FILE [--require KEY]... [FILE [--require KEY]...]...");
        System.exit(64);
      }
    }
    if (files.isEmpty()) {
      System.err.println("usage: PropsCheck FILE [--require KEY]... [FILE [--require KEY]...]...");
      System.exit(64);
    }
    int worst = 0;
    for (int i = 0; i < files.size(); i++) worst = Math.max(worst, check(i, files.get(i), requires.get(i)));
    System.exit(worst);
  }
}
