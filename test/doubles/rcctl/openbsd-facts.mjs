// The OpenBSD facts the rcctl TEST DOUBLE reproduces (not OpenBSD code): which daemons are base daemons,
// rcctl's special services, the defaults a fresh install's rc.conf and syslog.conf hold, and rcctl's own
// usage text, actions, variables and service names. "ref §N" = section N of docs/openbsd-rc.md.

/** Daemons started by OpenBSD's /etc/rc (start_daemon lines); everything else is a package daemon. */
export const BASE_DAEMONS = new Set(
  (
    "amd apmd bgpd bootparamd cron dhcp6leased dhcpd dhcpleased dhcrelay dhcrelay6 dvmrpd eigrpd ftpd " +
    "ftpproxy ftpproxy6 hostapd hotplugd httpd identd ifstated iked inetd isakmpd iscsid ldapd ldattach " +
    "ldpd lockd lpd mopd mountd mrouted nfsd npppd nsd ntpd ospf6d ospfd pflogd portmap rad radiusd rarpd " +
    "rbootd relayd resolvd ripd route6d sasyncd sensorsd slaacd slowcgi smtpd sndiod snmpd spamd spamlogd " +
    "sshd statd syslogd tftpd tftpproxy unbound unwind vmd watchdogd wsmoused xenodm ypbind ypldap ypserv"
  ).split(" "),
);

/** rcctl's "special" services: plain YES/NO variables in rc.conf, no rc.d script; value = default. */
export const SPECIALS = {
  accounting: "NO",
  check_quotas: "YES",
  ipsec: "NO",
  library_aslr: "YES",
  multicast: "NO",
  pf: "YES",
  spamd_black: "NO",
};

// Base daemons enabled by default (empty flags) in OpenBSD's /etc/rc.conf; the other base daemons are
// written as X_flags=NO. Written by the double itself, not copied from OpenBSD.
const BASE_ON_BY_DEFAULT = new Set([
  "cron",
  "dhcpleased",
  "ntpd",
  "pflogd",
  "resolvd",
  "slaacd",
  "smtpd",
  "sndiod",
  "sshd",
  "syslogd",
]);

export function defaultRcConf() {
  const lines = [
    "# rc.conf of the rcctl TEST DOUBLE's fake root: base daemon defaults (X_flags=NO means off by default).",
    "# Like OpenBSD's /etc/rc.conf, do not edit: rcctl writes rc.conf.local.",
  ];
  const entries = [];
  for (const d of BASE_DAEMONS) entries.push(`${d}_flags=${BASE_ON_BY_DEFAULT.has(d) ? "" : "NO"}`);
  for (const [k, v] of Object.entries(SPECIALS)) entries.push(`${k}=${v}`);
  entries.push("pkg_scripts=", "shlib_dirs=");
  entries.sort();
  return `${[...lines, "", ...entries].join("\n")}\n`;
}

// A reduced syslog.conf (ref §3, from openbsd/src etc/syslog.conf: daemon.info goes to /var/log/daemon).
// Composed for the double.
export const DEFAULT_SYSLOG_CONF = [
  "# syslog.conf of the rcctl TEST DOUBLE's fake root (reduced; program blocks like !jicofo may follow).",
  "*.notice;auth,authpriv,cron,ftp,kern,lpr,mail,user.none\t/var/log/messages",
  "daemon.info\t\t\t\t\t\t/var/log/daemon",
  "",
].join("\n");

// rcctl(8) itself (ref §1): its actions, the variables get/set know, the names it accepts, its usage text.
export const ACTIONS = ["check", "configtest", "reload", "restart", "start", "stop"];
export const VARS = ["class", "execdir", "flags", "logger", "rtable", "status", "timeout", "user"];
export const NAME_RE = /^[_A-Za-z][_A-Za-z0-9]*$/; // rc.subr's _rc_check_name: [_[:alpha:]][_[:alnum:]]*
export const USAGE = [
  "usage:\trcctl get|getdef|set service | daemon [variable [argument ...]]",
  "\trcctl [-d | -q] [-f] check|configtest|reload|restart|start|stop daemon ...",
  "\trcctl disable|enable|order [daemon ...]",
  "\trcctl ls all|failed|off|on|rogue|started|stopped",
  "",
].join("\n");
