"""A Diameter peer built on python-diameter (an independent stack), driven by the Rust tests.

Reads one JSON command a line on stdin, sends it to ratel's Diameter server and prints the
answer as one JSON line:
  {"op": "cer"} | {"op": "dwr"} | {"op": "dpr"}
  {"op": "ccr", "session": S, "type": 1..4, "number": N, "msisdn": M, "service": "voice"|"data"|"sms",
   "other": O, "requested": R, "used": U, "rating_group": G, "retransmit": bool,
   "event_time": unix seconds, "hop": H (reuse a hop-by-hop id)}
  {"op": "raw", "hex": "..."}: send these bytes as they are and print the next answer.
  {"op": "round", "requests": [ccr, ...]}: send them all at once (each its own hop-by-hop id),
   then print {"answers": [...]} in the order sent, matched by hop-by-hop id.
  {"op": "send", "requests": [ccr, ...]}: send them all and print {"sent": n} without reading.
Every answer prints its command, flags, Result-Code, Redirect-Host (if any) and each
Multiple-Services-Credit-Control.
"""
import json
import socket
import sys

from diameter.message import Message
from diameter.message.commands import (
    CapabilitiesExchangeRequest, CreditControlRequest, DeviceWatchdogRequest,
    DisconnectPeerRequest,
)
from diameter.message.avp.grouped import (
    ImsInformation, MultipleServicesCreditControl, RequestedServiceUnit, ServiceInformation,
    SubscriptionId, UsedServiceUnit,
)

CONTEXTS = {"voice": "32260@3gpp.org", "data": "32251@3gpp.org", "sms": "32274@3gpp.org"}
NTP_OFFSET = 2208988800

host, port = sys.argv[1], int(sys.argv[2])
sock = socket.create_connection((host, port), timeout=30)
next_hop = [1]


def read_exact(n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("ratel closed the connection")
        data += chunk
    return data


def receive():
    head = read_exact(4)
    length = int.from_bytes(head[1:4], "big")
    return Message.from_bytes(head + read_exact(length - 4))


def send(message, hop=None, retransmit=False):
    if hop is None:
        hop = next_hop[0]
        next_hop[0] += 1
    message.header.hop_by_hop_identifier = hop
    message.header.end_to_end_identifier = hop
    data = bytearray(message.as_bytes())
    if retransmit:
        data[4] |= 0x10
    sock.sendall(bytes(data))
    return hop


def units(service, value):
    unit = {"voice": "cc_time", "data": "cc_total_octets", "sms": "cc_service_specific_units"}[service]
    return unit, value


def ccr(command):
    service = command["service"]
    m = CreditControlRequest()
    m.session_id = command["session"]
    m.origin_host = b"gw.test"
    m.origin_realm = b"test"
    m.destination_realm = b"localdomain"
    m.service_context_id = CONTEXTS[service]
    m.cc_request_type = command["type"]
    m.cc_request_number = command["number"]
    if command["type"] == 4:
        m.requested_action = command.get("action", 0)
    if "event_time" in command:
        from datetime import datetime, timezone
        m.event_timestamp = datetime.fromtimestamp(command["event_time"], timezone.utc)
    m.subscription_id.append(SubscriptionId(subscription_id_type=0,
                                            subscription_id_data=command["msisdn"]))
    mscc = MultipleServicesCreditControl()
    if command.get("requested") is not None:
        name, value = units(service, command["requested"])
        mscc.requested_service_unit = RequestedServiceUnit(**{name: value})
    elif command["type"] in (1, 2, 4):
        mscc.requested_service_unit = RequestedServiceUnit()
    if command.get("used"):
        name, value = units(service, command["used"])
        mscc.used_service_unit.append(UsedServiceUnit(**{name: value}))
    if command.get("rating_group") is not None:
        mscc.rating_group = command["rating_group"]
    if command.get("refund_information") is not None:
        mscc.refund_information = bytes.fromhex(command["refund_information"])
    m.multiple_services_credit_control.append(mscc)
    if command.get("other"):
        m.service_information = ServiceInformation(
            ims_information=ImsInformation(called_party_address="tel:+" + command["other"]))
    return m


def summary(answer):
    out = {
        "command": answer.header.command_code,
        "request": bool(answer.header.command_flags & 0x80),
        "error": bool(answer.header.command_flags & 0x20),
        "hop": answer.header.hop_by_hop_identifier,
        "result": getattr(answer, "result_code", None),
        "origin_host": (getattr(answer, "origin_host", b"") or b"").decode(),
        "mscc": [],
    }
    redirect = getattr(answer, "redirect_host", None) or []
    if redirect:
        out["redirect_host"] = [h.decode() if isinstance(h, bytes) else h for h in redirect]
        out["redirect_host_usage"] = getattr(answer, "redirect_host_usage", None)
    if getattr(answer, "check_balance_result", None) is not None:
        out["check_balance_result"] = answer.check_balance_result
    cost = getattr(answer, "cost_information", None)
    if cost is not None:
        out["cost"] = {"digits": cost.unit_value.value_digits,
                       "exponent": cost.unit_value.exponent,
                       "currency": cost.currency_code}
    for mscc in getattr(answer, "multiple_services_credit_control", None) or []:
        granted = None
        if mscc.granted_service_unit is not None:
            g = mscc.granted_service_unit
            granted = g.cc_time if g.cc_time is not None else (
                g.cc_total_octets if g.cc_total_octets is not None else g.cc_service_specific_units)
        fui = None
        if mscc.final_unit_indication is not None:
            f = mscc.final_unit_indication
            fui = {"action": f.final_unit_action}
            if f.redirect_server is not None:
                fui["redirect"] = f.redirect_server.redirect_server_address
        refund = mscc.refund_information.hex() if mscc.refund_information is not None else None
        out["mscc"].append({"result": mscc.result_code, "granted": granted,
                            "validity": mscc.validity_time, "fui": fui,
                            "rating_group": mscc.rating_group,
                            "refund_information": refund})
    return out


for line in sys.stdin:
    command = json.loads(line)
    op = command["op"]
    try:
        if op == "cer":
            m = CapabilitiesExchangeRequest()
            m.origin_host = b"gw.test"
            m.origin_realm = b"test"
            m.host_ip_address = "127.0.0.1"
            m.vendor_id = 0
            m.product_name = "python-diameter test peer"
            m.auth_application_id = [4]
            send(m)
        elif op == "dwr":
            m = DeviceWatchdogRequest()
            m.origin_host = b"gw.test"
            m.origin_realm = b"test"
            send(m)
        elif op == "dpr":
            m = DisconnectPeerRequest()
            m.origin_host = b"gw.test"
            m.origin_realm = b"test"
            m.disconnect_cause = 0
            send(m)
        elif op == "ccr":
            send(ccr(command), hop=command.get("hop"), retransmit=command.get("retransmit", False))
        elif op == "raw":
            sock.sendall(bytes.fromhex(command["hex"]))
        elif op in ("round", "send"):
            hops = [send(ccr(c), retransmit=c.get("retransmit", False)) for c in command["requests"]]
            if op == "send":
                print(json.dumps({"sent": len(hops)}), flush=True)
                continue
            answers = {}
            while len(answers) < len(hops):
                answer = summary(receive())
                answers[answer["hop"]] = answer
            print(json.dumps({"answers": [answers[h] for h in hops]}), flush=True)
            continue
        print(json.dumps(summary(receive())), flush=True)
    except Exception as e:  # the test reads what went wrong
        print(json.dumps({"failure": repr(e)}), flush=True)
