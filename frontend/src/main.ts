/* main — loads the fonts and styles (bundled from npm, never from a CDN) and starts the app. */
import './styles.css';
import { loadFonts } from './fonts';
import { App } from './app';

const root = document.getElementById('app');
if (!root) throw new Error('#app missing from index.html');
const app = new App(root);
app.start();
// Canvas text is measured when drawn: redraw everything once the font is in.
void loadFonts().then(() => app.redrawAll());
