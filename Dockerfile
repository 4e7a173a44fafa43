# One image for every Kilat process; SERVICES chooses what a container hosts. Node 24, the current
# LTS line (package.json: node >= 22).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/public ./public
USER node
EXPOSE 3000 9464
HEALTHCHECK --interval=10s --timeout=3s --retries=6 CMD node -e "const e=process.env,s=((e.SERVICES||'').trim()||'all').split(',').map(n=>n.trim()),g=['all','*','api'].some(n=>s.includes(n));fetch('http://127.0.0.1:'+(g?e.PORT||3000:e.PROBE_PORT||9464)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/server.js"]
