//! CIDR notation and membership, including IPv4-mapped IPv6 peers.

use std::net::IpAddr;

use sockmux_proxy::{Cidr, CidrError, CidrList};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn net(s: &str) -> Cidr {
    s.parse().unwrap()
}

#[test]
fn parses_networks_and_bare_addresses() {
    assert_eq!(net("10.0.0.0/8").prefix(), 8);
    assert_eq!(net("10.0.0.0/8").network(), ip("10.0.0.0"));
    assert_eq!(net("::1/128").prefix(), 128);
    assert_eq!(net("2001:db8::/32").to_string(), "2001:db8::/32");
    assert_eq!(net("192.0.2.7"), net("192.0.2.7/32"));
    assert_eq!(net("::1"), net("::1/128"));
    assert_eq!(net("0.0.0.0/0").prefix(), 0);
    assert_eq!(net("::/0").prefix(), 0);
}

#[test]
fn rejects_bad_addresses_prefixes_and_host_bits() {
    let err = |s: &str| s.parse::<Cidr>().unwrap_err();
    assert_eq!(err("10.0.0/8"), CidrError::Address("10.0.0".into()));
    assert_eq!(err("host/8"), CidrError::Address("host".into()));
    assert_eq!(err(""), CidrError::Address("".into()));
    for (s, p, max) in [
        ("10.0.0.0/33", "33", 32),
        ("10.0.0.0/", "", 32),
        ("10.0.0.0/08", "08", 32),
        ("10.0.0.0/+8", "+8", 32),
        ("10.0.0.0/8/8", "8/8", 32),
        ("::/129", "129", 128),
        ("::/0128", "0128", 128),
    ] {
        assert_eq!(
            err(s),
            CidrError::Prefix {
                text: p.into(),
                max
            },
            "{s}"
        );
    }
    assert_eq!(err("10.1.0.0/8"), CidrError::HostBits("10.1.0.0/8".into()));
    assert_eq!(err("::1/64"), CidrError::HostBits("::1/64".into()));
    assert_eq!(
        err("10.1.0.0/8").to_string(),
        "10.1.0.0/8 has host bits set; write the network address"
    );
}

#[test]
fn contains_exactly_the_addresses_under_the_prefix() {
    let n = net("10.0.0.0/8");
    assert!(n.contains(ip("10.0.0.0")));
    assert!(n.contains(ip("10.255.255.255")));
    assert!(!n.contains(ip("11.0.0.0")));
    assert!(!n.contains(ip("9.255.255.255")));
    let n = net("192.0.2.128/25");
    assert!(n.contains(ip("192.0.2.128")) && n.contains(ip("192.0.2.255")));
    assert!(!n.contains(ip("192.0.2.127")));
    assert!(net("0.0.0.0/0").contains(ip("255.255.255.255")));
    assert!(net("::/0").contains(ip("ffff::1")));
    let n = net("2001:db8::/32");
    assert!(n.contains(ip("2001:db8:ffff::1")));
    assert!(!n.contains(ip("2001:db9::")));
    assert!(net("::1").contains(ip("::1")) && !net("::1").contains(ip("::2")));
}

#[test]
fn ipv4_mapped_ipv6_addresses_are_their_ipv4_hosts() {
    let v4 = net("10.0.0.0/8");
    assert!(v4.contains(ip("::ffff:10.1.2.3")));
    assert!(!v4.contains(ip("::ffff:11.1.2.3")));
    // Not mapped: the IPv4-compatible form and plain IPv6 stay IPv6.
    assert!(!v4.contains(ip("::10.1.2.3")));
    assert!(!v4.contains(ip("2001:db8::a01:203")));
    let mapped = net("::ffff:10.0.0.0/104");
    assert!(mapped.contains(ip("10.9.9.9")));
    assert!(!mapped.contains(ip("11.9.9.9")));
    assert!(!net("8000::/1").contains(ip("200.0.0.1")));
    assert!(net("::/1").contains(ip("200.0.0.1")));
    assert!(net("::/0").contains(ip("200.0.0.1")));
    assert!(net("0.0.0.0/0").contains(ip("::ffff:1.2.3.4")));
    assert!(!net("0.0.0.0/0").contains(ip("::1")));
}

#[test]
fn cidr_new_checks_the_prefix_and_host_bits() {
    assert!(Cidr::new(ip("10.0.0.0"), 8).is_some());
    assert!(Cidr::new(ip("10.0.0.0"), 33).is_none());
    assert!(Cidr::new(ip("10.0.0.1"), 31).is_none());
    assert_eq!(
        Cidr::from("10.0.0.1".parse::<std::net::Ipv4Addr>().unwrap()),
        net("10.0.0.1/32")
    );
    assert_eq!(
        Cidr::from("::2".parse::<std::net::Ipv6Addr>().unwrap()),
        net("::2/128")
    );
}

#[test]
fn lists_parse_from_commas_and_match_any_member() {
    let list: CidrList = "10.0.0.0/8, 192.0.2.7 ,::1".parse().unwrap();
    assert_eq!(list.networks().len(), 3);
    assert_eq!(list.to_string(), "10.0.0.0/8,192.0.2.7/32,::1/128");
    assert!(list.contains(ip("10.3.3.3")));
    assert!(list.contains(ip("192.0.2.7")));
    assert!(list.contains(ip("::ffff:192.0.2.7")));
    assert!(list.contains(ip("::1")));
    assert!(!list.contains(ip("192.0.2.8")));
    assert!(!CidrList::new().contains(ip("10.0.0.1")));
    assert!(CidrList::new().is_empty());
    assert_eq!("".parse::<CidrList>(), Err(CidrError::Empty));
    assert_eq!("10.0.0.0/8,,::1".parse::<CidrList>(), Err(CidrError::Empty));
    assert!("10.0.0.0/8,bad".parse::<CidrList>().is_err());
    let mut built: CidrList = [net("10.0.0.0/8")].into_iter().collect();
    built.push(net("::1"));
    built.extend([net("192.0.2.0/24")]);
    assert_eq!(built.to_string(), "10.0.0.0/8,::1/128,192.0.2.0/24");
}
