// Web fonts as a document has them: the faces it has loaded, compared between the customer's
// page and the agent's view (a face the agent never loaded draws its text in a fallback font).
/** `family weight style` of each face a document has loaded, sorted; runs in the page. */
export function loadedFaces(agent) {
  const doc = agent ? window.cobrowseAgent.mirror.frame.contentDocument : document;
  const faces = [];
  doc.fonts.forEach((f) => {
    if (f.status === 'loaded') faces.push(`${f.family} ${f.weight} ${f.style}`);
  });
  return faces.sort();
}

/**
 * The faces the customer's page loaded, and those the agent's view loaded once it has them all
 * (or after `timeout`: the caller compares and names what is missing).
 */
export async function faces(customer, agent, timeout = 8000) {
  await customer.evaluate(() => document.fonts.ready);
  const want = await customer.evaluate(loadedFaces, false);
  const end = Date.now() + timeout;
  for (;;) {
    const got = await agent.evaluate(loadedFaces, true);
    if (got.join('\n') === want.join('\n') || Date.now() > end)
      return { customer: want, agent: got };
    await new Promise((r) => setTimeout(r, 150));
  }
}
