/*
 * fonts — Iosevka (text, canvas labels) and Righteous (the brand), bundled
 * from the @fontsource npm packages: no request leaves the machine. Only the
 * woff2 files are used (every browser that runs this app reads woff2), which
 * keeps the build that mevid embeds small; bold is synthesised.
 */
import iosevka from '@fontsource/iosevka/files/iosevka-latin-400-normal.woff2?url';
import righteous from '@fontsource/righteous/files/righteous-latin-400-normal.woff2?url';

/** Registers the fonts; resolves when Iosevka can be used on canvases. */
export async function loadFonts(): Promise<void> {
  const faces = [
    new FontFace('Iosevka', `url(${iosevka}) format('woff2')`, { display: 'swap' }),
    new FontFace('Righteous', `url(${righteous}) format('woff2')`, { display: 'swap' }),
  ];
  for (const f of faces) document.fonts.add(f);
  await Promise.allSettled(faces.map((f) => f.load()));
}
