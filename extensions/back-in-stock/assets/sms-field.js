/* Back in stock: the block's SMS field (blocks/notify-me.liquid, loaded only where SMS is offered).
   Each country shows its dial code; the chosen one's code stands before the number, and an
   example of a mobile number there is the placeholder and the hint. Only the countries the shop
   takes SMS signups from are offered (its sms_countries, from the app proxy's config: notify-me.js
   sets root.bisCountries and calls limit). */
(() => {
  'use strict';
  if (window.BackInStockSms) return;
  // Region:dial code:example mobile number (national format), from phonenumbers:
  // tools/phone_examples.py writes it; do not edit by hand.
  const PHONES = new Map(/* phone-examples:start */'AC:247:40123|AD:376:312 345|AE:971:050 123 4567|AF:93:070 123 4567|AG:1:(268) 464-1234|AI:1:(264) 235-1234|AL:355:067 212 3456|AM:374:077 123456|AO:244:923 123 456|AR:54:011 15-2345-6789|AS:1:(684) 733-1234|AT:43:0664 123456|AU:61:0412 345 678|AW:297:560 1234|AX:358:041 2345678|AZ:994:040 123 45 67|BA:387:061 123 456|BB:1:(246) 250-1234|BD:880:01812-345678|BE:32:0450 00 12 34|BF:226:70 12 34 56|BG:359:043 012 345|BH:973:3600 1234|BI:257:79 56 12 34|BJ:229:01 95 12 34 56|BL:590:0690 00 12 34|BM:1:(441) 370-1234|BN:673:712 3456|BO:591:71234567|BQ:599:318 1234|BR:55:(11) 96123-4567|BS:1:(242) 359-1234|BT:975:17 12 34 56|BW:267:71 123 456|BY:375:8 029 491-19-11|BZ:501:622-1234|CA:1:(506) 234-5678|CC:61:0412 345 678|CD:243:0991 234 567|CF:236:70 01 23 45|CG:242:06 123 4567|CH:41:078 123 45 67|CI:225:01 23 45 6789|CK:682:71 234|CL:56:(2) 2123 4567|CM:237:6 71 23 45 67|CN:86:131 2345 6789|CO:57:321 1234567|CR:506:8312 3456|CU:53:05 1234567|CV:238:991 12 34|CW:599:9 518 1234|CX:61:0412 345 678|CY:357:96 123456|CZ:420:601 123 456|DE:49:01512 3456789|DJ:253:77 83 10 01|DK:45:34 41 23 45|DM:1:(767) 225-1234|DO:1:(809) 234-5678|DZ:213:0551 23 45 67|EC:593:099 123 4567|EE:372:5123 4567|EG:20:010 01234567|EH:212:06 50 12 34 56|ER:291:07 123 456|ES:34:612 34 56 78|ET:251:091 123 4567|FI:358:041 2345678|FJ:679:701 2345|FK:500:51234|FM:691:350 1234|FO:298:21 12 34|FR:33:06 12 34 56 78|GA:241:06 03 12 34|GB:44:07400 123456|GD:1:(473) 403-1234|GE:995:555 12 34 56|GF:594:0694 20 12 34|GG:44:07781 123456|GH:233:023 123 4567|GI:350:57123456|GL:299:22 12 34|GM:220:301 2345|GN:224:601 12 34 56|GP:590:0690 00 12 34|GQ:240:222 123 456|GR:30:691 234 5678|GT:502:5123 4567|GU:1:(671) 300-1234|GW:245:955 012 345|GY:592:609 1234|HK:852:5123 4567|HN:504:9123-4567|HR:385:092 123 4567|HT:509:34 10 1234|HU:36:06 20 123 4567|ID:62:0812-345-678|IE:353:085 012 3456|IL:972:050-234-5678|IM:44:07924 123456|IN:91:081234 56789|IO:246:380 1234|IQ:964:0791 234 5678|IR:98:0912 345 6789|IS:354:611 1234|IT:39:312 345 6789|JE:44:07797 712345|JM:1:(876) 210-1234|JO:962:07 9012 3456|JP:81:090-1234-5678|KE:254:0712 123456|KG:996:0700 123 456|KH:855:091 234 567|KI:686:72001234|KM:269:321 23 45|KN:1:(869) 765-2917|KP:850:0192 123 4567|KR:82:010-2000-0000|KW:965:500 12345|KY:1:(345) 323-1234|KZ:7:8 (771) 000 9998|LA:856:020 23 123 456|LB:961:71 123 456|LC:1:(758) 284-5678|LI:423:660 234 567|LK:94:071 234 5678|LR:231:077 012 3456|LS:266:5012 3456|LT:370:(0-612) 34567|LU:352:628 123 456|LV:371:21 234 567|LY:218:091-2345678|MA:212:06 50 12 34 56|MC:377:06 12 34 56 78|MD:373:0621 12 345|ME:382:060 123 456|MF:590:0690 00 12 34|MG:261:032 12 345 67|MH:692:235-1234|MK:389:072 345 678|ML:223:65 01 23 45|MM:95:09 212 3456|MN:976:8812 3456|MO:853:6612 3456|MP:1:(670) 234-5678|MQ:596:0696 20 12 34|MR:222:22 12 34 56|MS:1:(664) 492-3456|MT:356:9696 1234|MU:230:5251 2345|MV:960:771-2345|MW:265:0991 23 45 67|MX:52:222 123 4567|MY:60:012-345 6789|MZ:258:82 123 4567|NA:264:081 123 4567|NC:687:75.12.34|NE:227:93 12 34 56|NF:672:3 81234|NG:234:0802 123 4567|NI:505:8123 4567|NL:31:06 12345678|NO:47:40 61 23 45|NP:977:984-1234567|NR:674:555 1234|NU:683:888 4012|NZ:64:021 123 4567|OM:968:9212 3456|PA:507:6123-4567|PE:51:912 345 678|PF:689:87 12 34 56|PG:675:7012 3456|PH:63:0905 123 4567|PK:92:0301 2345678|PL:48:512 345 678|PM:508:055 12 34|PR:1:(787) 234-5678|PS:970:0599 123 456|PT:351:912 345 678|PW:680:620 1234|PY:595:0961 456789|QA:974:3312 3456|RE:262:0692 12 34 56|RO:40:0712 034 567|RS:381:060 1234567|RU:7:8 (912) 345-67-89|RW:250:0720 123 456|SA:966:051 234 5678|SB:677:74 21234|SC:248:2 510 123|SD:249:091 123 1234|SE:46:070-123 45 67|SG:65:8123 4567|SH:290:51234|SI:386:031 234 567|SJ:47:41 23 45 67|SK:421:0912 123 456|SL:232:(025) 123456|SM:378:66 66 12 12|SN:221:70 123 45 67|SO:252:7 1123456|SR:597:741-2345|SS:211:0977 123 456|ST:239:981 2345|SV:503:7012 3456|SX:1:(721) 520-5678|SY:963:0944 567 890|SZ:268:7612 3456|TC:1:(649) 231-1234|TD:235:63 01 23 45|TG:228:90 11 23 45|TH:66:081 234 5678|TJ:992:91 712 3456|TK:690:7290|TL:670:7721 2345|TM:993:8 66 123456|TN:216:20 123 456|TO:676:771 5123|TR:90:0501 234 56 78|TT:1:(868) 291-1234|TV:688:90 1234|TW:886:0912 345 678|TZ:255:0621 234 567|UA:380:050 123 4567|UG:256:0712 345678|US:1:(201) 555-0123|UY:598:094 231 234|UZ:998:91 234 56 78|VA:39:312 345 6789|VC:1:(784) 430-1234|VE:58:0412-1234567|VG:1:(284) 300-1234|VI:1:(340) 642-1234|VN:84:0912 345 678|VU:678:591 2345|WF:681:82 12 34|WS:685:72 12345|XK:383:043 201 234|YE:967:0712 345 678|YT:262:0639 01 23 45|ZA:27:071 123 4567|ZM:260:095 5123456|ZW:263:071 234 5678'/* phone-examples:end */
    .split('|').map((row) => row.split(':')).map(([region, dial, example]) => [region, { dial, example }]));

  const show = (root) => {
    const select = root.querySelector('select[name=country]'), phone = root.querySelector('input[name=phone]');
    const dial = root.querySelector('[data-bis-dial]'), hint = root.querySelector('[data-bis-example]');
    if (!select || !phone || !dial || !hint) return;
    const known = PHONES.get(select.value);
    dial.textContent = known ? '+' + known.dial : '';
    dial.hidden = !known;
    phone.placeholder = known ? known.example : '';
    hint.textContent = known ? hint.dataset.template.replace('[example]', known.example) : '';
  };

  const label = (o) => {
    const known = PHONES.get(o.value);
    if (known) o.textContent += ' (+' + known.dial + ')';
    return o;
  };

  // The shop's SMS countries only: the storefront's own countries among them, the others named
  // in the page's language; the chosen one kept if it may be chosen, else the first.
  const limit = (root) => {
    const allowed = root.bisCountries, select = root.querySelector('select[name=country]');
    if (!allowed || !select || select.dataset.bisDials === undefined) return;
    const chosen = select.value, have = new Map([...select.options].map((o) => [o.value, o]));
    let names;
    try {
      names = new Intl.DisplayNames([document.documentElement.lang || 'en'], { type: 'region' });
    } catch (e) { names = { of: (c) => c }; }
    const offered = allowed.filter((c) => PHONES.has(c)).map((c) => have.get(c) || label(new Option(names.of(c), c)));
    offered.sort((a, b) => a.textContent.localeCompare(b.textContent));
    select.replaceChildren(...offered);
    select.value = offered.some((o) => o.value === chosen) ? chosen : (offered[0] || {}).value;
    show(root);
  };

  const init = (scope) => (scope || document).querySelectorAll('[data-bis]').forEach((root) => {
    const select = root.querySelector('select[name=country]');
    if (!select || select.dataset.bisDials) return;
    select.dataset.bisDials = '';
    [...select.options].forEach(label);
    select.addEventListener('change', () => show(root));
    show(root);
    limit(root);
  });
  window.BackInStockSms = { init, limit };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => init());
  else init();
  document.addEventListener('shopify:section:load', (e) => init(e.target));
})();
