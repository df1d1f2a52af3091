# tapprobe.py: checks the TAP test network (scripts/netns.sh) at layer 2, as a guest sees it.
# Follows RFC 826 (ARP), RFC 2131/2132 (DHCP), RFC 4861 (router solicitation/advertisement).
# Opens the TAP device ($SABOS_TAP, default sabostap0) the way QEMU does (so it fails with
# EBUSY while a QEMU is attached), sends an ARP request for 10.0.9.1, a DHCPDISCOVER and a
# router solicitation from MAC 52:54:00:00:99:01 (again each second until answered), and waits at most 12 s for the ARP reply,
# a DHCPOFFER and a router advertisement with a prefix. Exit 0 when all three came.
import fcntl, os, struct, select, time, sys
TUNSETIFF = 0x400454ca; IFF_TAP = 0x0002; IFF_NO_PI = 0x1000
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', os.environ.get('SABOS_TAP', 'sabostap0').encode(), IFF_TAP | IFF_NO_PI))
mac = bytes.fromhex('525400009901'); bc = b'\xff' * 6
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
arp = bc + mac + b'\x08\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + mac + bytes(4) + bytes(6) + bytes([10,0,9,1])
xid = 0x5ab05ab0
bootp = struct.pack('!BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, xid, 0, 0x8000, bytes(4), bytes(4), bytes(4), bytes(4), mac, b'', b'')
bootp += b'\x63\x82\x53\x63' + b'\x35\x01\x01' + b'\x37\x03\x01\x03\x06' + b'\xff'
udp = struct.pack('!HHHH', 68, 67, 8 + len(bootp), 0) + bootp
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes(4), bytes([255]*4))
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
dhcp = bc + mac + b'\x08\x00' + ip + udp
# Router solicitation from the link-local address fe80::5054:ff:fe12:3457 to ff02::2
src6 = bytes.fromhex('fe80000000000000505400fffe009901'); dst6 = bytes.fromhex('ff020000000000000000000000000002')
rs = struct.pack('!BBHI', 133, 0, 0, 0)
pseudo = src6 + dst6 + struct.pack('!I3xB', len(rs), 58)
rs = rs[:2] + struct.pack('!H', csum(pseudo + rs)) + rs[4:]
ip6 = struct.pack('!IHBB', 0x60000000, len(rs), 58, 255) + src6 + dst6 + rs
rsf = bytes.fromhex('333300000002') + mac + b'\x86\xdd' + ip6
got = {}
# The bridge port comes up only when the TAP gets a reader (carrier), so the first frames may
# be dropped: ask again every second for what has not been answered, like a real client.
end = time.time() + 12
next_send = 0
while time.time() < end and len(got) < 3:
    if time.time() >= next_send:
        for k, f in (('arp', arp), ('dhcp', dhcp), ('ra', rsf)):
            if k not in got: os.write(fd, f)
        next_send = time.time() + 1
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r: continue
    fr = os.read(fd, 2048); et = fr[12:14]
    if et == b'\x08\x06' and fr[20:22] == b'\x00\x02' and fr[28:32] == bytes([10,0,9,1]):
        got['arp'] = 'ARP reply: 10.0.9.1 is at ' + fr[22:28].hex(':')
    elif et == b'\x08\x00' and fr[23] == 17 and fr[36:38] == b'\x00\x44':
        b = fr[42:]
        if struct.unpack('!I', b[4:8])[0] == xid:
            got['dhcp'] = 'DHCPOFFER: yiaddr %s' % '.'.join(map(str, b[16:20]))
    elif et == b'\x86\xdd' and fr[20] == 58 and fr[54] == 134:
        opts = fr[54+16:]; pfx = None
        while len(opts) >= 8 and opts[1]:
            if opts[0] == 3: pfx = (opts[16:32].hex(), opts[2], opts[3])
            opts = opts[opts[1]*8:]
        got['ra'] = 'RA: prefix %s/%d flags %#x' % (pfx[0], pfx[1], pfx[2]) if pfx else 'RA without prefix'
for k in ('arp', 'dhcp', 'ra'): print(got.get(k, 'MISSING ' + k))
sys.exit(0 if len(got) == 3 else 1)
