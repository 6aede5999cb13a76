// @anthropic-ai/sdk against the daemon: `node anthropic_client.mjs BASE_URL MODEL CASE`; prints one JSON line.
import Anthropic from "@anthropic-ai/sdk";

const [baseURL, model, which] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey: "not-needed-on-loopback", maxRetries: 0 });
const request = {
  model,
  max_tokens: 16,
  temperature: 0,
  system: "Answer in one word.",
  messages: [{ role: "user", content: "What is the capital of France?" }],
};

async function run() {
  if (which === "create") {
    const message = await client.messages.create(request);
    return { text: message.content[0].text, stop: message.stop_reason, usage: message.usage };
  }
  if (which === "stream") {
    const stream = client.messages.stream(request);
    const kinds = [];
    let text = "";
    stream.on("streamEvent", (event) => kinds.push(event.type));
    stream.on("text", (delta) => { text += delta; });
    const final = await stream.finalMessage();
    return { text, kinds, final: final.content[0].text };
  }
  throw new Error(`unknown case ${which}`);
}

console.log(JSON.stringify(await run()));
