import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.logging.Level;

/**
 * Prints, as JSON, the names java.util.logging prints for SEVERE, WARNING and INFO in every locale
 * this JDK knows. Level.getLocalizedName() reads the JDK's own resource bundles
 * (sun.util.logging.resources.logging*) for the default locale, which is what Jitsi's loggers print.
 * Run by jul-levels.mjs; prints {"jdk": VERSION, "levels": {LEVEL: {NAME: [LOCALE, ...]}}}.
 */
public class JulLevelNames {
  public static void main(String[] args) {
    Level[] levels = {Level.SEVERE, Level.WARNING, Level.INFO};
    Map<String, Map<String, TreeSet<String>>> out = new TreeMap<>();
    for (Level l : levels) out.put(l.getName(), new TreeMap<>());
    Locale[] locales = Locale.getAvailableLocales();
    for (Locale loc : locales) {
      Locale.setDefault(loc);
      for (Level l : levels) {
        String name = l.getLocalizedName();
        String tag = loc.toLanguageTag();
        out.get(l.getName()).computeIfAbsent(name, k -> new TreeSet<>()).add(tag.isEmpty() ? "root" : tag);
      }
    }
    StringBuilder sb = new StringBuilder();
    sb.append("{\"jdk\":").append(q(System.getProperty("java.version")));
    sb.append(",\"locales\":").append(locales.length).append(",\"levels\":{");
    boolean firstLevel = true;
    for (Map.Entry<String, Map<String, TreeSet<String>>> e : out.entrySet()) {
      if (!firstLevel) sb.append(',');
      firstLevel = false;
      sb.append(q(e.getKey())).append(":{");
      boolean first = true;
      for (Map.Entry<String, TreeSet<String>> n : e.getValue().entrySet()) {
        if (!first) sb.append(',');
        first = false;
        sb.append(q(n.getKey())).append(":[");
        boolean f2 = true;
        for (String t : n.getValue()) {
          if (!f2) sb.append(',');
          f2 = false;
          sb.append(q(t));
        }
        sb.append(']');
      }
      sb.append('}');
    }
    sb.append("}}");
    System.out.println(sb);
  }

  private static String q(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
