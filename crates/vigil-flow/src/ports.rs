//! Zeek's `likely_server_ports`: the ports its base protocol analyzers register. A flow whose
//! first packet comes *from* such a port (and not to one) is assumed to have been picked up
//! mid-way, so the roles are flipped, exactly as Zeek's TCP and UDP analyzers decide.

/// TCP ports registered by Zeek's default analyzers.
pub fn likely_tcp_server(port: u16) -> bool {
    matches!(
        port,
        21 | 22
            | 25
            | 53
            | 80
            | 81
            | 88
            | 110
            | 135
            | 139
            | 143
            | 389
            | 443
            | 445
            | 502
            | 563
            | 585
            | 587
            | 614
            | 631
            | 636
            | 989
            | 990
            | 992
            | 993
            | 995
            | 1080
            | 1434
            | 2811
            | 3128
            | 3268
            | 3306
            | 3389
            | 5222
            | 5223
            | 5269
            | 5432
            | 6379
            | 6666..=6669 | 8000 | 8080 | 8888 | 20000
    )
}

/// UDP ports registered by Zeek's default analyzers (DNS, DHCP, NTP, SNMP, syslog, Kerberos,
/// RADIUS, SIP, DTLS/QUIC, RDPEUDP and the UDP tunnels).
pub fn likely_udp_server(port: u16) -> bool {
    matches!(
        port,
        53 | 67
            | 68
            | 88
            | 123
            | 137
            | 161
            | 162
            | 389
            | 443
            | 514
            | 1812
            | 2123
            | 2152
            | 3389
            | 3544
            | 4789
            | 5060
            | 5072
            | 5353
            | 5355
            | 6081
            | 20000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn well_known_ports() {
        assert!(likely_tcp_server(443) && likely_tcp_server(6667) && !likely_tcp_server(6705));
        assert!(likely_udp_server(53) && !likely_udp_server(40000) && !likely_udp_server(22));
    }
}
