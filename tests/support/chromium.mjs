// Debian's Chromium for the browser tests, started the same way by each of them: headless, a
// fresh profile directory, nothing that reaches for the network on its own.
export async function launchChromium(chromium, executablePath, userDataDir, timeout) {
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    timeout,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  context.setDefaultTimeout(timeout);
  return context;
}
