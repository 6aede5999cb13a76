// openai-js against the daemon: `node openai_client.mjs BASE_URL MODEL CASE`; prints one JSON line.
import OpenAI from "openai";

const [baseURL, model, which] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "not-needed-on-loopback", maxRetries: 0 });
const ask = [{ role: "system", content: "Answer in one word." }, { role: "user", content: "What is the capital of France?" }];
const tools = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "The weather in a city",
      parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
  },
];

async function run() {
  if (which === "chat") {
    const answer = await client.chat.completions.create({ model, messages: ask, max_tokens: 16, temperature: 0 });
    return { text: answer.choices[0].message.content, finish: answer.choices[0].finish_reason };
  }
  if (which === "stream") {
    const stream = await client.chat.completions.create({
      model, messages: ask, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true },
    });
    let text = "";
    let chunks = 0;
    let usage = null;
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage ?? usage;
    }
    return { text, chunks, usage };
  }
  if (which === "tools") {
    const messages = [
      { role: "user", content: "What is the weather in Paris?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
      },
      { role: "tool", tool_call_id: "call_1", content: '{"temperature_c": 18, "sky": "clear"}' },
    ];
    const answer = await client.chat.completions.create({ model, messages, tools, max_tokens: 16, temperature: 0 });
    return { text: answer.choices[0].message.content, finish: answer.choices[0].finish_reason };
  }
  if (which === "responses") {
    const response = await client.responses.create({ model, instructions: "Answer in one word.", input: "What is the capital of France?", max_output_tokens: 16, temperature: 0, store: false });
    return { text: response.output_text, status: response.status, object: response.object };
  }
  throw new Error(`unknown case ${which}`);
}

console.log(JSON.stringify(await run()));
