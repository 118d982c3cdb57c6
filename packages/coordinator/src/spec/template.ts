// The spec that `vmmeet init` writes: the paper's topology, commented so that it doubles as documentation.
// Values are substituted only after validation by the same schema the spec is later read with.
import { jitsiRelease, KNOWN_RELEASES } from "@vmmeet/shared";

/** The ports' Java (11) when the release runs on it, else the oldest the release needs. */
function javaFor(release: number): number {
  const java = jitsiRelease(release)?.java ?? [11];
  return java.includes(11) ? 11 : (java[0] ?? 11);
}

export interface TemplateOptions {
  domain: string;
  publicAddress: string;
  release: number;
}

export function specTemplate(options: TemplateOptions): string {
  return `# yaml-language-server: $schema=./vmmeet.schema.json
# vmmeet deployment spec: one compartmentalized Jitsi Meet on one OpenBSD VMM host.
# Every VM's files (nginx.conf, config.js, prosody.cfg.lua, jicofo.conf, jvb.conf, *.in.sh, pf.conf,
# /etc/hosts, syslog.conf, ...) and the host's vm.conf and pf.conf are rendered from this file.
# Check it with 'vmmeet validate', see the files with 'vmmeet render --out DIR'.
# Secrets (XMPP passwords, truststore password, TURN secret) and the deployment CA are generated into the
# state directory (.vmmeet/ beside this file, mode 0700); they never belong here.
# Editors: the JSON Schema of this file is printed by 'vmmeet schema'.
version: 1

# The XMPP domain and the public site name: nginx server_name, prosody VirtualHost, jicofo --host.
domain: ${options.domain}

jitsi:
  # Jitsi release installed on the VMs (pkg_info jicofo): one of ${KNOWN_RELEASES.join(", ")}.
  # 7648 = the paper's OpenBSD 7.2 packages, 9646 = the OpenBSD jicofo and jitsi-videobridge packages,
  # ${KNOWN_RELEASES[KNOWN_RELEASES.length - 1]} = the newest stable. For a mixed install name each component's release, as
  # OpenBSD's ports today: { jicofo: 9646, jvb: 9646, web: 10133, plugins: 10133 }. Release-dependent
  # settings (jicofo xmpp-domain from 8044, jvb ICE/TCP before 9646, jitsi-meet's prosody template, ...)
  # follow from it.
  release: ${options.release}
  # Prosody major version on the xmpp VM: "0.11", "0.12" (net/prosody 0.12.4) or "13".
  prosody: "0.12"
  # Java major version of the jicofo and jvb VMs: the ports build with 11; releases from 11031 need 17.
  java: ${javaFor(options.release)}

# The address the world reaches: the VMM host's egress address, also jvb's NAT public address.
publicAddress: ${options.publicAddress}

host:
  # The VMM host runs an agent too, as node "vmm": it applies /etc/vm.conf, /etc/pf.conf, sysctl.conf.
  name: vmm
  egress: egress            # interface or group the public address is on
  resolver: 127.0.0.1       # the VMs' DNS queries are redirected here (pf rdr-to)
  vmNetwork: 100.64.0.0/10  # vmd's "local interface" prefix: VM N is 100.64.N.3, the host side 100.64.N.2
  adminNetworks: []         # networks allowed to ssh into the VMs, besides the VMM host itself
  monitorNetworks: []       # networks allowed to scrape jicofo (8888) and jvb (8080)
  imageDir: /home/vmm       # VM disk images (the paper: /home/vmm/NAME.qcow2)
  debugBosh: false          # the paper's debug rule: public 5280/tcp straight to prosody
  coordinatorPort: 7443     # where the VMs' agents reach 'vmmeet serve' on the host (pf lets them)

# One VM per component, as in the paper. Add jvb nodes to scale out: each needs its own address and
# udpPort (the host forwards one public UDP port per bridge) and gets its own brewery nickname.
nodes:
  - name: web               # nginx + jitsi-meet
    role: web
    address: 100.64.1.3
    vm: { memory: 2G, disk: 5G }
  - name: xmpp              # prosody
    role: xmpp
    address: 100.64.2.3
  - name: jicofo
    role: jicofo
    address: 100.64.3.3
    vm: { memory: 4G }
  - name: jvb
    role: jvb
    address: 100.64.4.3
    vm: { memory: 4G }
    jvb: { udpPort: 10000 }   # nickname defaults to the node name

# TLS for the public site: acme-client (Let's Encrypt, the paper's choice) or your own files:
#   tls: { mode: files, certificate: /etc/ssl/jitsi.fullchain.pem, key: /etc/ssl/private/jitsi.key }
tls:
  mode: acme

# SCTP is not available on OpenBSD. "colibri-websocket" gives the clients a bridge channel through nginx
# (/colibri-ws/); "none" is the paper's setup (conferences work; dominant speaker and last-N do not).
bridgeChannel: none

xmppWebsocket: false        # BOSH only, as the paper; true adds /xmpp-websocket

turn:
  enabled: false            # true needs a node with role: turn

auth:
  mode: anonymous           # or "internal": users registered in prosody open rooms
  guests: true              # with internal auth: guests may join opened rooms
`;
}
