"""Why a delivery failed, from the remote server's words, its enhanced status code and its reply code.

The reason vocabulary is sisimai's (userunknown, mailboxfull, blocked, …), which is what the bounce corpus
is labelled with; only `HARD_REASONS` (the address itself is bad) suppress an address. Diagnostic text is
read before codes, because servers use codes loosely: a full mailbox answered with 5.1.1, a spam-filter
rejection with 550 5.1.1, an unknown user with 5.7.1 ("Recipient address rejected: Access denied").
"""

from __future__ import annotations

import re

# Ordered: the first rule whose pattern is found in the diagnostic wins. Soft reasons that servers
# word unmistakably (full mailbox, blocklists, authentication, rate limits) come before the bad-address
# phrases, since a rejection often quotes both ("550 5.1.1 mailbox full" is a full mailbox).
_TEXT_RULES: tuple[tuple[str, str], ...] = (
    # au/KDDI (ezweb.ne.jp) answers a domain-filter rejection "550 : User unknown", with no address
    ("filtered", r"\b55\d:? : user unknown"),
    (
        "mailererror",
        r"x-unix;|command (died|failed|output)|mail(er|box) error: (permission|unknown mailer)"
        r"|local delivery failed|procmail|pipe to \|",
    ),
    (
        "mailboxfull",
        r"mailbox (is )?(full|over ?quota|size limit|exceeded|has exceeded)|over ?quota|quota exceeded"
        r"|exceeded (the )?(storage|mailbox|quota)|insufficient (disk )?space|out of storage"
        r"|user'?s? (mailbox|disk|account) (is )?(full|over)|account is full|mailfolder is full"
        r"|maildir (over|exceeded)|disk quota|is over (its|the) quota|full mailbox|mail box full"
        r"|(storage|space) (quota|allocation) exceeded|inbox is full|not enough (storage|space)"
        r"|exceed(s|ed)? (his|her|their|the (user'?s?|recipient'?s?)) (storage|quota|mailbox)"
        r"|recipient'?s? mailbox is full|mailbox_full|too much mail data|storage full",
    ),
    (
        "mesgtoobig",
        r"message (is )?too (big|large)|message size exceeds|exceeds (the )?(maximum|size limit)"
        r"|size limit|message length exceeds|mail size limit|too large for|message file too big",
    ),
    (
        "exceedlimit",
        r"message (header )?size exceeds|exceeds? (the )?(message|recipient)s? limit"
        r"|too many recipients",
    ),
    (
        "authfailure",
        r"\bspf\b|\bdkim\b|\bdmarc\b|sender policy framework|authentication (failed|required|check)"
        r"|not authenticated|unauthenticated (email|mail)|sender (domain )?authentication"
        r"|does not pass (spf|dkim|dmarc)|5\.7\.2[3-7]|5\.7\.509|5\.7\.515",
    ),
    (
        "requireptr",
        r"reverse (dns|lookup|mapping)|no ptr|ptr record|rdns|cannot find your hostname"
        r"|hostname does not match|cannot resolve your (address|hostname)|unresolvable (host|ip)"
        r"|client host rejected: cannot find|ip name lookup failed|ip address has no ptr"
        r"|name lookup failed|no reverse|pointer record|5\.7\.25\b",
    ),
    (
        "badreputation",
        r"bad reputation|poor reputation|low reputation|ip reputation|sender reputation"
        r"|unusual rate of unsolicited|temporarily rate limited due to (ip|domain) reputation",
    ),
    (
        "toomanyconn",
        r"too many (connections|concurrent|simultaneous|sessions)|connection (limit|rate limit)"
        r"|try again later.*connections|max(imum)? (number of )?connections",
    ),
    (
        "speeding",
        r"rate ?limit|too many (messages|emails|mails)|sending rate|slow down|throttl"
        r"|receiving mail at a rate|unusual rate|exceeded the rate|temporarily deferred due to",
    ),
    (
        "virusdetected",
        r"virus|malware|infected|trojan|malicious (content|attachment)",
    ),
    (
        "spamdetected",
        r"\bspam\b|junk mail|unsolicited|bulk mail|content (filter|rejected)|spam ?(score|content)"
        r"|classified as spam|message (was )?(rejected|blocked) (as|because)|looks like spam"
        r"|suspicious|phish|detected as",
    ),
    (
        "suspend",
        r"(account|mailbox|address|user) (is |has been )?(disabled|suspended|inactive|deactivated"
        r"|locked|expired|frozen|closed|not active|temporarily (disabled|unavailable|blocked))"
        r"|(inactive|disabled|suspended) (account|mailbox|user|recipient)"
        r"|account (has been )?(terminated|blocked for)|recipient (is )?(suspended|inactive)"
        r"|mailbox disabled|user (is )?(inactive|disabled)|not active|temporar(il)?y locked|been locked",
    ),
    (
        "hasmoved",
        r"has moved|moved (permanently|to)|no longer (valid|available|with|at)|address changed"
        r"|changed (his|her|their) (e-?mail )?address|user not local; please try",
    ),
    (
        "norelaying",
        r"relay(ing)? (access )?(denied|not permitted|not allowed|prohibited)|not permitted to relay"
        r"|unable to relay|relay not permitted|we do not relay|not (a )?(local|our) domain"
        r"|relaying (denied|not allowed)|not local host|no relay|cannot relay|relay access",
    ),
    (
        "notaccept",
        r"null mx|does not accept (e-?)?mail|not accepting (any )?mail|accepts no mail"
        r"|domain (does not|doesn't) (accept|receive)|mail is not accepted|5\.1\.10\b",
    ),
    (
        "rejected",
        r"sender address rejected|domain of sender address|sender (address )?(is )?(invalid|unknown|denied)"
        r"|bad sender|sender verify failed|mail from .*rejected",
    ),
    (
        "userunknown",
        r"user(name)? (unknown|not found|does not exist|doesn'?t exist|not (known|exist)|invalid)"
        r"|unknown (user|recipient|local[- ]part|mailbox|address|account|alias)"
        r"|no (such|valid) (user|recipient|mailbox|address|account|person|local user)"
        r"|(recipient|mailbox|address|account|addressee|alias) (unknown|not found|does not exist"
        r"|doesn'?t exist|not exist|is not (valid|known)|invalid|unavailable|not available|rejected"
        r"|is unavailable)|invalid (recipient|mailbox|address|user|e-?mail address)"
        r"|(does not|doesn'?t) (have an? |exist)|no mailbox"
        r"|(not|isn'?t) a (valid |registered |known )?(\w+ )?(user|recipient)"
        r"|user (is )?not (here|found|on this system)|undeliverable address"
        r"|bad (recipient|address|destination mailbox)"
        r"|recipient not (found|recognized|valid)|mailbox (is )?(not found|inactive|unknown|name not allowed)"
        r"|unrouteable address|not our customer|address (is )?(rejected|unknown)"
        r"|account that you tried to reach does not exist|no one by that name|unknown or illegal alias"
        r"|rejected: (access denied|user)|access denied.*recipient|recipientnotfound"
        r"|resolver\.adr\.|address lookup failed|not listed in|email address could not be found",
    ),
    (
        "networkerror",
        r"name service error.*try again|host not found, try again|temporary (dns|lookup) failure"
        r"|malformed or unexpected name server reply|servfail|host name lookup failure",
    ),
    (
        "hostunknown",
        r"host (or domain name )?(unknown|not found)|unknown host|domain (not found|does not exist|unknown)"
        r"|(unrouteable|unroutable|invalid|unknown|bad) (mail )?domain|name or service not known"
        r"|no (mx|mail exchanger|such domain|dns|a record)|dns (error|lookup failed)|nxdomain"
        r"|name server.*(not found|host not found)|host_unknown|domain name not found"
        r"|recipient domain .* not (exist|found)|hostname not found|mx (record|lookup)"
        r"|couldn'?t find (a|any) (mail exchanger|host)",
    ),
    (
        "blocked",
        r"block(ed|list|listed)|black ?list|\brbl\b|\bdnsbl\b|spamhaus|spamcop|barracuda|sorbs"
        r"|banned|denylist|deny ?list|your ip|ip address .*(rejected|refused|not allowed)|access denied"
        r"|client host .*rejected|connection (refused|rejected)|refused to talk|not allowed to send"
        r"|rejected (because|due to) (your|the sending)|poor reputation|dynamic ip|residential"
        r"|use the smtp server of your isp|please use your isp|service not available|listed (at|on|by)"
        r"|your (server|host|network) (is|has been)|\bbl\b",
    ),
    (
        "policyviolation",
        r"policy|prohibited|not allowed|violat|forbidden|restricted|administrative",
    ),
    (
        "filtered",
        r"filter|rejected by recipient|recipient (has )?(rejected|refused)|refused by recipient"
        r"|not authori[sz]ed|delivery not authorized|does not accept mail from|rejected by (the )?user"
        r"|message rejected|sender rejected|not accept mail from",
    ),
    (
        "contenterror",
        r"content|header (error|syntax|line)|mime|message (header|body)|illegal (char|header)"
        r"|invalid (header|message|character)|8bit",
    ),
    (
        "expired",
        r"expired|timed? ?out|time(d)? ?out|retry timeout|delivery time|too long|could not be delivered"
        r" within|giving up|gave up|has been delayed|delayed|not (yet )?been delivered|retry|queue",
    ),
    (
        "networkerror",
        r"network|connection (timed out|reset|closed|lost|dropped)|routing loop|loop(s)? back"
        r"|mail loop|too many hops|hop count|lost connection|unreachable|no route|could not connect"
        r"|connect(ion)? to .* failed|tls|ssl|certificate|broken pipe|requests to connect|socket error",
    ),
    (
        "systemerror",
        r"system (error|config|full|not accepting)|internal (server )?error|server error|local error"
        r"|temporary (local )?(failure|problem|error)|out of memory|insufficient system"
        r"|configuration error|i/o error|unavailable|try again",
    ),
    ("syntaxerror", r"syntax error|command unrecognized|unrecognized command|bad sequence"),
    ("onhold", r"on hold|held|quarantine"),
)

TEXT_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (reason, re.compile(pattern, re.IGNORECASE)) for reason, pattern in _TEXT_RULES
)

# RFC 3463 subjects and details → reason, used when the text names nothing we know.
_STATUS_REASONS: dict[str, str] = {
    "1.0": "rejected",
    "1.1": "userunknown",
    "1.2": "hostunknown",
    "1.3": "userunknown",
    "1.4": "userunknown",
    "1.5": "userunknown",
    "1.6": "hasmoved",
    "1.7": "rejected",
    "1.8": "rejected",
    "1.9": "systemerror",
    "1.10": "notaccept",
    "2.0": "filtered",
    "2.1": "suspend",
    "2.2": "mailboxfull",
    "2.3": "exceedlimit",
    "2.4": "systemerror",
    "3.0": "systemerror",
    "3.1": "systemfull",
    "3.2": "notaccept",
    "3.3": "systemerror",
    "3.4": "mesgtoobig",
    "3.5": "systemerror",
    "4.0": "networkerror",
    "4.1": "networkerror",
    "4.2": "networkerror",
    "4.3": "systemerror",
    "4.4": "hostunknown",
    "4.5": "networkerror",
    "4.6": "networkerror",
    "4.7": "expired",
    "5.0": "syntaxerror",
    "5.1": "syntaxerror",
    "5.2": "syntaxerror",
    "5.3": "exceedlimit",
    "5.4": "syntaxerror",
    "5.5": "syntaxerror",
    "6.0": "contenterror",
    "6.1": "contenterror",
    "6.2": "contenterror",
    "6.3": "contenterror",
    "6.4": "contenterror",
    "6.5": "contenterror",
    "7.0": "securityerror",
    "7.1": "rejected",
    "7.2": "securityerror",
    "7.3": "securityerror",
    "7.4": "securityerror",
    "7.5": "securityerror",
    "7.6": "securityerror",
    "7.7": "securityerror",
    "7.8": "securityerror",
    "7.9": "policyviolation",
    "7.13": "suspend",
    "7.23": "authfailure",
    "7.24": "authfailure",
    "7.25": "requireptr",
    "7.26": "authfailure",
    "7.27": "notaccept",
}

# A status whose subject/detail alone is reliable enough to beat the text rules (the server said
# exactly which, and phrases like "not found" would otherwise pull toward another reason).
_DECISIVE_STATUS = frozenset({"1.10", "1.7", "1.8", "2.2", "7.25", "7.26", "7.23", "7.24", "3.4", "1.6"})

STATUS_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
REPLY_RE = re.compile(r"(?<![\d.#-])([245][0-5]\d)(?=[ -]|$)(?!-\d)", re.MULTILINE)


def status_reason(status: str | None) -> str | None:
    """The reason an enhanced status code names on its own, if any (x.0.0 names none)."""
    if not status:
        return None
    _, subject, detail = status.split(".")
    return _STATUS_REASONS.get(f"{subject}.{detail}")


def text_reason(text: str) -> str | None:
    """The first reason whose phrases occur in `text`."""
    for reason, pattern in TEXT_RULES:
        if pattern.search(text):
            return reason
    return None


def reason_for(status: str | None, reply_code: str | None, text: str, context: str = "") -> str:
    """The reason for one failure: decisive codes, then the server's words, then the report's own
    text (`context`), then any code, then undefined."""
    subject_detail = ".".join(status.split(".")[1:]) if status else None
    if subject_detail in _DECISIVE_STATUS:
        return _STATUS_REASONS[subject_detail]
    for words in (text, context):
        found = text_reason(words) if words else None
        if found:
            return found
    by_status = status_reason(status)
    if by_status:
        return by_status
    if reply_code in ("551",):
        return "hasmoved"
    if reply_code in ("552",):
        return "mailboxfull"
    return "undefined"


def find_status(text: str, *, last: bool = False) -> str | None:
    """The first (or last) enhanced status code in a diagnostic text ("550 5.1.1 …", "(#5.1.1)")."""
    matches = list(STATUS_RE.finditer(text))
    if not matches:
        return None
    match = matches[-1] if last else matches[0]
    return f"{match[1]}.{int(match[2])}.{int(match[3])}"


def find_reply_code(text: str) -> str | None:
    """The first SMTP reply code in a diagnostic text ("said: 550 …", "smtp; 554 …")."""
    match = REPLY_RE.search(text)
    return match[1] if match else None


_COMMANDS = (
    re.compile(r"in reply to (?:the )?(rcpt to|mail from|end of data|data|helo|ehlo|message text)", re.I),
    re.compile(r"\bafter (rcpt to|mail from|end of data|data|initial connection|helo|ehlo)", re.I),
    re.compile(r"(rcpt to|mail from|data) (?:response|command)", re.I),
    re.compile(r"\[(rcpt_to|mail_from|data)\]", re.I),
    re.compile(r"my (name) was rejected", re.I),
)
# Sendmail pipelines RCPT and DATA: a rejection printed after `>>> DATA` that the server follows with
# "no valid recipients" was the answer to RCPT.
_PIPELINED_RCPT = re.compile(r"no valid recipients|need rcpt|all rcpt commands were rejected", re.I)
_SENDMAIL_COMMAND = re.compile(r">>> (rcpt to|mail from|data|helo|ehlo)[^\n]*\n(?:.*\n)?<<< [45]", re.I)


def smtp_command(*texts: str) -> str | None:
    """The SMTP stage a rejection came at: CONN, HELO, MAIL, RCPT or DATA, when the report says."""
    for text in texts:
        found = _SENDMAIL_COMMAND.search(text)
        for pattern in _COMMANDS:
            found = found or pattern.search(text)
        if found:
            word = found[1].lower().replace("_", " ")
            if word in ("end of data", "data", "message text"):
                return "RCPT" if _PIPELINED_RCPT.search(text) else "DATA"
            if word in ("helo", "ehlo", "name"):
                return "HELO"
            if word == "initial connection":
                return "CONN"
            return "MAIL" if word.startswith("mail") else "RCPT"
    return None


# Providers that reject unknown users only after DATA, in words that leave no doubt.
_DEFINITE_UNKNOWN = re.compile(
    r"dd this user doesn'?t have an? [\w.-]+ account"  # Yahoo
    r"|the email account that you tried to reach does not exist",  # Gmail
    re.IGNORECASE,
)


def adjust_for_command(reason: str, command: str | None, status: str | None, text: str = "") -> str:
    """A bad-address reason given outside RCPT TO means something else.

    Rejected after DATA, the address was accepted at RCPT: a filter refused the content (some
    providers word that "user unknown"). Rejected at MAIL FROM, it is the sender that was refused; at
    the greeting, the sending host.
    """
    detail = ".".join(status.split(".")[1:]) if status else None
    if _DEFINITE_UNKNOWN.search(text):
        return reason
    if reason == "userunknown" and detail != "1.1" and (command == "DATA" or detail == "2.0"):
        return "filtered"
    if reason in ("userunknown", "hostunknown") and command == "MAIL":
        return "rejected"
    if reason in ("userunknown", "hostunknown", "hasmoved") and command in ("HELO", "CONN"):
        return "blocked"
    return reason
