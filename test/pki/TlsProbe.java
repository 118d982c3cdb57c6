// TLS client with the JVM's default trust setup, as jicofo and jvb connect to prosody: the truststore comes
// only from -Djavax.net.ssl.trustStore / -Djavax.net.ssl.trustStorePassword (net/jitsi's jicofo.sh and
// jvb.sh pass exactly these two; no trustStoreType, so the JVM's default type, PKCS12 since Java 9).
//
// Usage: java [-Djavax.net.ssl.trustStore=F -Djavax.net.ssl.trustStorePassword=P] TlsProbe.java ADDRESS PORT NAME
// Connects TCP to ADDRESS:PORT, then layers TLS over that socket under the host name NAME, the way an XMPP
// client starts TLS for its service domain: NAME is sent as SNI and the server certificate must match it
// (endpoint identification "HTTPS", RFC 2818 rules). Prints "OK <protocol> <subject> <line>" and exits 0, or
// "FAIL <exception chain>" and exits 1.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

public class TlsProbe {
  public static void main(String[] args) {
    String address = args[0];
    int port = Integer.parseInt(args[1]);
    String name = args[2];
    try {
      Socket plain = new Socket();
      plain.connect(new InetSocketAddress(address, port), 10_000);
      plain.setSoTimeout(10_000);
      SSLSocket tls = (SSLSocket) SSLContext.getDefault().getSocketFactory().createSocket(plain, name, port, true);
      SSLParameters params = tls.getSSLParameters();
      params.setEndpointIdentificationAlgorithm("HTTPS");
      tls.setSSLParameters(params);
      tls.startHandshake();
      BufferedReader in = new BufferedReader(new InputStreamReader(tls.getInputStream(), StandardCharsets.UTF_8));
      String line = in.readLine();
      String subject = tls.getSession().getPeerPrincipal().getName();
      System.out.println("OK " + tls.getSession().getProtocol() + " " + subject + " " + line);
      tls.close();
      System.exit(0);
    } catch (Exception e) {
      StringBuilder chain = new StringBuilder();
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (chain.length() > 0) chain.append(" <- ");
        chain.append(t.getClass().getName()).append(": ").append(t.getMessage());
      }
      System.out.println("FAIL " + chain);
      System.exit(1);
    }
  }
}
