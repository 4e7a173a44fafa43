/**
 * The internal webhook targets issue 19 found accepted and delivered to: IPv4 inside IPv6 (the
 * URL parser turns the mapped form into hex before a textual check sees it) and special-purpose
 * IPv4 ranges.
 */
export const ISSUE_19_INTERNAL_URLS = [
  "http://[::ffff:127.0.0.1]:9000/hook",
  "http://[::ffff:7f00:1]/hook",
  "http://[0:0:0:0:0:ffff:127.0.0.1]/hook",
  "http://[::ffff:169.254.169.254]/latest/meta-data",
  "http://[::127.0.0.1]/hook",
  "http://[64:ff9b::7f00:1]/hook",
  "http://198.18.0.1/hook",
  "http://224.0.0.1/hook",
  "http://255.255.255.255/hook",
];
