// SMS length: GSM-7 (160 per message, 153 per part when split; the
// extension characters count twice) or, with any other character, UCS-2
// (70, and 67 per part), counted in UTF-16 units as the network does.
const GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION = "^{}\\[~]|€\f";

export function smsInfo(text) {
  let units = 0;
  for (const ch of text) {
    if (GSM.includes(ch)) units += 1;
    else if (GSM_EXTENSION.includes(ch)) units += 2;
    else { units = -1; break; }
  }
  if (units >= 0) return { encoding: "GSM-7", units, segments: units <= 160 ? (units ? 1 : 0) : Math.ceil(units / 153) };
  const n = text.length; // UTF-16 code units
  return { encoding: "UCS-2", units: n, segments: n <= 70 ? 1 : Math.ceil(n / 67) };
}
