// Shared pieces of the jicofo/jvb/prosody/nginx SIMULATORS (test doubles, not the real programs), one module
// per job; this entry re-exports them all for the files outside this folder (test/real's stand-ins, the
// tests that take RECONNECT, typed by lib.d.mts):
//   vm.mjs                 the simulated VM's clock and root directory
//   process-lifecycle.mjs  a simulator's command line and its stop on rc.subr's signals
//   hocon.mjs, ksh-env.mjs, prosody-lua.mjs   readers for the formats vmmeet renders
//   simulated-network.mjs  NETDIR: who listens on which VM address and port, /etc/hosts name resolution
//   log-lines.mjs          the real programs' log line layouts (jitsi, prosody, nginx)
//   jitsi-startup.mjs      jicofo's and jvb's env file, HOCON config and truststore at start
//   prosody-accounts.mjs   SCRAM keys as prosody stores them, account file paths
//   truststore.mjs         PKCS#12 truststores and certificate checks
//   xmpp-stand-in.mjs      the simulators' line protocol in place of XMPP, and its client login
//   reconnect.mjs          the real programs' reconnect timing and the loop keeping a login up
//   health-endpoint.mjs    the HTTP /about/health listener
//   jicofo-brewery.mjs     jicofo's brewery: bridges in the room and jicofo's lines about them
export * from "./health-endpoint.mjs";
export * from "./hocon.mjs";
export * from "./jicofo-brewery.mjs";
export * from "./jitsi-startup.mjs";
export * from "./ksh-env.mjs";
export * from "./log-lines.mjs";
export * from "./process-lifecycle.mjs";
export * from "./prosody-accounts.mjs";
export * from "./prosody-lua.mjs";
export * from "./reconnect.mjs";
export * from "./simulated-network.mjs";
export * from "./truststore.mjs";
export * from "./vm.mjs";
export * from "./xmpp-stand-in.mjs";
